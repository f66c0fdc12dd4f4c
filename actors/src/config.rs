//! The strategy file: one RON document configuring every trading actor.
//! Missing sections or fields take their defaults, so a file only states what
//! it changes.

use crate::execution::journal::FsyncPolicy;
use crate::execution::ExecutionConfig;
use crate::oracle::OracleConfig;
use crate::sentinel::SentinelConfig;
use crate::sonar::SonarConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StrategyConfig {
    pub oracle: OracleConfig,
    pub sonar: SonarConfig,
    pub sentinel: SentinelConfig,
    pub execution: ExecutionConfig,
    /// Directory of dated cost tables, relative to the repository root.
    pub costs_dir: String,
    /// Order journal file, and how often it is fsynced.
    pub journal_path: String,
    pub journal_fsync: FsyncPolicy,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self {
            oracle: OracleConfig::default(),
            sonar: SonarConfig::default(),
            sentinel: SentinelConfig::default(),
            execution: ExecutionConfig::default(),
            costs_dir: "config/costs".into(),
            journal_path: "var/orders.journal".into(),
            journal_fsync: FsyncPolicy::EveryMs(10),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid strategy file: {source}")]
    Parse {
        path: String,
        source: ron::error::SpannedError,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl StrategyConfig {
    /// Parse RON text; `origin` names the source in errors.
    pub fn from_ron(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let cfg: Self = ron::from_str(text).map_err(|source| ConfigError::Parse {
            path: origin.to_string(),
            source,
        })?;
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        })?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_ron(&text, &path.display().to_string())
    }

    /// Check every section (the same checks the actors' constructors make).
    pub fn validate(&self) -> Result<(), String> {
        self.oracle.weights_array().map_err(|e| e.to_string())?;
        self.sonar.validate().map_err(|e| e.to_string())?;
        self.sentinel.validate().map_err(|e| e.to_string())?;
        self.execution.validate().map_err(|e| e.to_string())?;
        if self.sonar.tick_size_e8 != self.execution.tick_size_e8 {
            return Err(format!(
                "sonar.tick_size_e8 ({}) differs from execution.tick_size_e8 ({}): one instrument, one tick size",
                self.sonar.tick_size_e8, self.execution.tick_size_e8
            ));
        }
        if self.sentinel.segment != self.execution.segment {
            return Err(format!(
                "sentinel.segment ({:?}) differs from execution.segment ({:?}): OTR exemptions would disagree",
                self.sentinel.segment, self.execution.segment
            ));
        }
        Ok(())
    }
}
