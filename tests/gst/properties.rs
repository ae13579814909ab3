//! Every element's properties, walked from their ParamSpecs: a fresh element holds each
//! default, every writable property reads back what was set, and docs/elements.md is
//! what these ParamSpecs say (regenerate it with
//! `UPDATE_DOCS=1 cargo test -p gst-plugin-face --test properties`).

mod util;

use gst::glib;
use gst::prelude::*;
use std::fmt::Write as _;
use util::*;

const ELEMENTS: [&str; 6] = [
    "facedetect",
    "faceid",
    "faceemotion",
    "faceannotate",
    "faceredact",
    "facejson",
];

/// The element's own properties (not GstObject's or GstBaseTransform's), in order.
fn own_properties(element: &gst::Element) -> Vec<glib::ParamSpec> {
    element
        .list_properties()
        .iter()
        .filter(|p| p.owner_type() == element.type_())
        .cloned()
        .collect()
}

fn same(a: &glib::Value, b: &glib::Value) -> bool {
    match (a.get::<f64>(), b.get::<f64>()) {
        // Stored as f32 by the engine: equal to f32 precision.
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
        _ => a.compare(b) == Some(std::cmp::Ordering::Equal),
    }
}

/// A valid value other than the default, for the round trip.
fn other_value(p: &glib::ParamSpec) -> glib::Value {
    if let Some(p) = p.downcast_ref::<glib::ParamSpecBoolean>() {
        return (!p.default_value()).to_value();
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecUInt>() {
        let d = p.default_value();
        return if d < p.maximum() { d + 1 } else { d - 1 }.to_value();
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecInt>() {
        let d = p.default_value();
        return if d < p.maximum() { d + 1 } else { d - 1 }.to_value();
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecUInt64>() {
        let d = p.default_value();
        return if d < p.maximum() { d + 1 } else { d - 1 }.to_value();
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecDouble>() {
        let (d, max) = (p.default_value(), p.maximum());
        return if d < max {
            d + (max.min(d + 2.0) - d) / 2.0
        } else {
            (d + p.minimum()) / 2.0
        }
        .to_value();
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecString>() {
        let v = match p.name() {
            "model" if p.default_value() == Some("yunet") => "mtcnn",
            "labels" => "happy,sad",
            _ => "/tmp/gst-face-property-test",
        };
        return v.to_value();
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecEnum>() {
        let class = p.enum_class();
        let d = p.default_value_as_i32();
        let v = class
            .values()
            .iter()
            .map(|v| v.value())
            .find(|&v| v != d)
            .expect("an enum with two values");
        return class.to_value(v).expect("a value of the enum");
    }
    panic!("no test value for property {} of type {}", p.name(), p.value_type());
}

#[test]
fn a_fresh_element_holds_every_default_and_reads_back_what_was_set() {
    init();
    for name in ELEMENTS {
        let fresh = gst::ElementFactory::make(name).build().expect("element");
        let props = own_properties(&fresh);
        assert!(!props.is_empty(), "{name} has properties");
        for p in &props {
            if !p.flags().contains(glib::ParamFlags::READABLE) {
                // Write-only (a password): it takes a value and never gives one back.
                let e = gst::ElementFactory::make(name).build().expect("element");
                e.set_property_from_value(p.name(), &other_value(p));
                continue;
            }
            let got = fresh.property_value(p.name());
            assert!(
                same(&got, p.default_value()),
                "{name}.{}: fresh value {got:?}, ParamSpec default {:?}",
                p.name(),
                p.default_value()
            );
            if !p.flags().contains(glib::ParamFlags::WRITABLE) {
                continue;
            }
            let e = gst::ElementFactory::make(name).build().expect("element");
            let v = other_value(p);
            e.set_property_from_value(p.name(), &v);
            let back = e.property_value(p.name());
            assert!(same(&back, &v), "{name}.{}: set {v:?}, read back {back:?}", p.name());
            assert!(
                !same(&back, p.default_value()),
                "{name}.{}: the test value is the default",
                p.name()
            );
        }
    }
}

fn shown(v: &glib::Value) -> String {
    let model_dir = faceengine::model_dir().to_string_lossy().into_owned();
    if let Ok(s) = v.get::<Option<String>>() {
        return match s {
            None => "(none)".into(),
            Some(s) if s.is_empty() => "\"\"".into(),
            // The bundled models' folder depends on where the checkout is.
            Some(s) => format!("`{}`", s.replace(&model_dir, "models")),
        };
    }
    if let Ok(x) = v.get::<f64>() {
        // The engine keeps these as f32: shown as such, the shortest exact form.
        return format!("{}", x as f32);
    }
    if let Ok(e) = v.get::<&glib::EnumValue>() {
        return format!("`{}`", e.nick());
    }
    v.serialize()
        .map(|s| s.to_string())
        .unwrap_or_else(|_| format!("{v:?}"))
}

fn range(p: &glib::ParamSpec) -> String {
    if let Some(p) = p.downcast_ref::<glib::ParamSpecUInt>() {
        return format!("{} – {}", p.minimum(), p.maximum());
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecUInt64>() {
        return format!("{} – {}", p.minimum(), p.maximum());
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecInt>() {
        return format!("{} – {}", p.minimum(), p.maximum());
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecDouble>() {
        return format!("{} – {}", p.minimum(), p.maximum());
    }
    if let Some(p) = p.downcast_ref::<glib::ParamSpecEnum>() {
        let nicks: Vec<String> = p
            .enum_class()
            .values()
            .iter()
            .map(|v| format!("`{}`", v.nick()))
            .collect();
        return nicks.join(", ");
    }
    String::new()
}

fn when(p: &glib::ParamSpec) -> &'static str {
    let f = p.flags();
    if !f.contains(glib::ParamFlags::WRITABLE) {
        "read-only"
    } else if f.contains(gst::PARAM_FLAG_MUTABLE_PLAYING) {
        "playing"
    } else if f.contains(gst::PARAM_FLAG_MUTABLE_READY) {
        "ready"
    } else {
        "null"
    }
}

fn type_name(p: &glib::ParamSpec) -> String {
    match p.value_type().name() {
        "gchararray" => "string".into(),
        "gdouble" => "double".into(),
        "guint" => "uint".into(),
        "guint64" => "uint64".into(),
        "gint" => "int".into(),
        "gboolean" => "boolean".into(),
        other => other.into(),
    }
}

fn elements_md() -> String {
    let mut out = String::from(
        "# Elements\n\n\
         Generated from the elements' own ParamSpecs by `tests/gst/properties.rs`, which fails when\n\
         this file and the code disagree; `UPDATE_DOCS=1 cargo test -p gst-plugin-face --test properties`\n\
         writes it again. `gst-inspect-1.0 ELEMENT` shows the same. \"Set while\" is the latest state in\n\
         which a property may still be changed (`playing`: at any time).\n",
    );
    for name in ELEMENTS {
        let factory = gst::ElementFactory::find(name).expect("factory");
        let e = gst::ElementFactory::make(name).build().expect("element");
        let md = |key: &str| factory.metadata(key).unwrap_or_default().to_string();
        let _ = write!(
            out,
            "\n## {name}\n\n**{}** ({}). {}\n\n| property | type | default | range | set while | description |\n|---|---|---|---|---|---|\n",
            md("long-name"),
            md("klass"),
            md("description"),
        );
        for p in own_properties(&e) {
            let blurb = p.blurb().unwrap_or_default().replace('|', "\\|");
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                p.name(),
                type_name(&p),
                shown(p.default_value()),
                range(&p),
                when(&p),
                blurb
            );
        }
    }
    out
}

#[test]
fn docs_elements_md_is_what_the_param_specs_say() {
    init();
    let path = root().join("docs/elements.md");
    let want = elements_md();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("docs/elements.md written");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/elements.md differs from the elements' ParamSpecs: run \
         `UPDATE_DOCS=1 cargo test -p gst-plugin-face --test properties` and commit it"
    );
}
