//! Reading a JSON report back: the one reader, used by `faultline report --from-json`,
//! `crashes import`, `stress` and the store. A report of a newer schema than this build
//! knows is refused, never half-read.

use crate::model::{Report, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum ReadReportError {
    #[error("not a faultline JSON report ({0})")]
    NotAReport(#[source] serde_json::Error),
    #[error("written by a newer faultline (report schema {found}; this one reads up to {SCHEMA_VERSION}): read it with that version, or upgrade faultline")]
    NewerSchema { found: u32 },
}

/// The report in `text`, when it is one this build can read whole.
pub fn report_from_json(text: &str) -> Result<Report, ReadReportError> {
    // The version first: a newer report may not even parse as this one's types.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: u32,
    }
    if let Ok(Version { schema_version }) = serde_json::from_str::<Version>(text) {
        if schema_version > SCHEMA_VERSION {
            return Err(ReadReportError::NewerSchema { found: schema_version });
        }
    }
    serde_json::from_str(text).map_err(ReadReportError::NotAReport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_report_is_refused_with_what_to_do() {
        let newer = format!(r#"{{"schema_version": {}, "something": "new"}}"#, SCHEMA_VERSION + 1);
        let err = report_from_json(&newer).unwrap_err();
        assert!(matches!(err, ReadReportError::NewerSchema { found } if found == SCHEMA_VERSION + 1));
        assert!(err.to_string().contains("upgrade faultline"), "{err}");
    }

    #[test]
    fn text_that_is_not_a_report_says_so() {
        assert!(matches!(report_from_json("{}"), Err(ReadReportError::NotAReport(_))));
        assert!(matches!(report_from_json("not json"), Err(ReadReportError::NotAReport(_))));
    }
}
