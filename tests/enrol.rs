//! face-enrol: builds a gallery file, reports what it could not use, fails clearly.

mod common;

use faceengine::gallery::Gallery;
use std::process::Command;

#[test]
fn enrol_writes_a_gallery_and_names_unusable_images() {
    let dir = std::env::temp_dir().join(format!("enrol-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for p in ["Barack_Obama", "Joe_Biden", "Nobody"] {
        std::fs::create_dir_all(dir.join(p)).expect("dirs");
    }
    std::fs::copy(common::asset("photos/obama.jpg"), dir.join("Barack_Obama/a.jpg")).expect("copy");
    std::fs::copy(common::asset("photos/obama2.jpg"), dir.join("Barack_Obama/b.JPG")).expect("copy");
    std::fs::copy(common::asset("photos/biden.jpg"), dir.join("Joe_Biden/biden.jpeg")).expect("copy");
    // Not an image at all, and an image without a face.
    std::fs::write(dir.join("Joe_Biden/broken.jpg"), b"not a jpeg").expect("write");
    let blank = image::RgbImage::from_pixel(200, 200, image::Rgb([90, 120, 200]));
    blank.save(dir.join("Nobody/sky.png")).expect("png");
    std::fs::write(dir.join("Nobody/notes.txt"), b"ignored: not an image").expect("write");

    let out_file = dir.join("people.gallery.json");
    let out = Command::new(env!("CARGO_BIN_EXE_face-enrol"))
        .arg(dir.as_os_str())
        .arg("-o")
        .arg(&out_file)
        .output()
        .expect("face-enrol runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("broken.jpg") && stderr.contains("cannot decode"),
        "{stderr}"
    );
    assert!(stderr.contains("sky.png") && stderr.contains("no face"), "{stderr}");
    assert!(!stderr.contains("notes.txt"), "{stderr}");
    let g = Gallery::load(&out_file).expect("gallery file loads");
    let names: Vec<(&str, usize)> = g.people.iter().map(|p| (p.name.as_str(), p.embeddings.len())).collect();
    assert_eq!(names, vec![("Barack_Obama", 2), ("Joe_Biden", 1)]);
    assert_eq!(g.dim, 128);

    // --remove deletes a person: the file no longer holds their name or embeddings.
    let biden = g.people[1].embeddings[0].clone();
    let first = format!("{}", biden[0]);
    let before = std::fs::read_to_string(&out_file).expect("gallery file");
    assert!(before.contains(&first), "the file writes embedding values as {first}");
    let out = Command::new(env!("CARGO_BIN_EXE_face-enrol"))
        .args(["--remove", "Joe_Biden"])
        .arg(&out_file)
        .output()
        .expect("face-enrol runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&out_file).expect("gallery file");
    assert!(!text.contains("Joe_Biden") && !text.contains("biden.jpeg"), "{text}");
    let g = Gallery::load(&out_file).expect("gallery file loads");
    assert_eq!(
        g.people.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Barack_Obama"]
    );
    assert!(g.people.iter().flat_map(|p| &p.embeddings).all(|e| *e != biden));
    assert!(
        !text.contains(&first),
        "Biden's first embedding value {first} is still in the file"
    );
    // A name that is not enrolled changes nothing and fails; --remove with -o is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_face-enrol"))
        .args(["--remove", "Barack_Obama", "--remove", "Nobody_Such"])
        .arg(&out_file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nobody_Such"));
    assert_eq!(std::fs::read_to_string(&out_file).expect("gallery file"), text);
    let out = Command::new(env!("CARGO_BIN_EXE_face-enrol"))
        .args(["--remove", "Barack_Obama", "-o", "x.json"])
        .arg(&out_file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));

    // Nobody enrolled: non-zero exit, and a missing folder is named.
    let out = Command::new(env!("CARGO_BIN_EXE_face-enrol"))
        .arg(dir.join("Nobody"))
        .arg("-o")
        .arg(dir.join("x.json"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_face-enrol"))
        .arg("/no/such/people")
        .arg("-o")
        .arg(dir.join("y.json"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/people"));
    let _ = std::fs::remove_dir_all(&dir);
}
