//! The JSON-lines record of one frame (format in docs/metadata.md): what `facejson`
//! writes and `score_classroom.py` reads. Fields an element did not produce are absent.

use serde::Serialize;
use serde::ser::SerializeMap;

/// Whose landmarks a record keeps. Five points of a face are a sketch of its shape: a
/// stranger's stay out of what is written unless asked for (docs/privacy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Landmarks {
    /// Only of the faces faceid names.
    #[default]
    Named,
    /// Of every face.
    All,
    /// Of none.
    None,
}

impl Landmarks {
    /// Whether a face named `identity` (name, gallery index; -1 unknown) keeps them.
    pub fn keeps(self, identity: Option<&(String, i32, f64)>) -> bool {
        match self {
            Self::Named => identity.is_some_and(|(_, id, _)| *id >= 0),
            Self::All => true,
            Self::None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameRecord {
    /// The name of the stream's source (a camera), when the stream has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pts: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceRecord>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FaceRecord {
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landmarks: Option<Vec<[f64; 2]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
    /// With a track: false when the tracker carried the face on this frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion: Option<EmotionRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityRecord {
    pub name: String,
    pub similarity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmotionRecord {
    pub label: String,
    pub confidence: f64,
    /// Class name → probability, written in the model's class order.
    #[serde(serialize_with = "ordered_map")]
    pub scores: Vec<(String, f64)>,
}

/// Serialises (key, value) pairs as a JSON object in their own order.
pub(crate) fn ordered_map<S: serde::Serializer>(pairs: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

impl FrameRecord {
    /// One line of JSON, no trailing newline.
    pub fn to_line(&self) -> String {
        // Serialising plain numbers and strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_are_left_out_and_scores_keep_their_order() {
        let rec = FrameRecord {
            source: None,
            frame: 3,
            pts: None,
            width: 640,
            height: 360,
            faces: vec![FaceRecord {
                bbox: [1.0, 2.0, 3.0, 4.0],
                confidence: Some(0.9),
                emotion: Some(EmotionRecord {
                    label: "sad".into(),
                    confidence: 0.7,
                    scores: vec![("sad".into(), 0.7), ("happy".into(), 0.3)],
                }),
                ..Default::default()
            }],
        };
        let line = rec.to_line();
        assert!(
            !line.contains("pts")
                && !line.contains("source")
                && !line.contains("identity")
                && !line.contains("track_id")
                && !line.contains("detected")
        );
        assert!(line.contains("\"scores\":{\"sad\":0.7,\"happy\":0.3}"), "{line}");
        assert!(line.starts_with("{\"frame\":3,\"width\":640"));
    }
}
