//! Where a trigger is in its life, the states a build system reports, and why a report may not
//! fit.

use serde::{Deserialize, Serialize};

/// Where a trigger is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStatus {
    Queued,
    Claimed,
    Running,
    Success,
    Failed,
    Canceled,
    Skipped,
}

impl TriggerStatus {
    pub const ALL: [TriggerStatus; 7] = [
        TriggerStatus::Queued,
        TriggerStatus::Claimed,
        TriggerStatus::Running,
        TriggerStatus::Success,
        TriggerStatus::Failed,
        TriggerStatus::Canceled,
        TriggerStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerStatus::Queued => "queued",
            TriggerStatus::Claimed => "claimed",
            TriggerStatus::Running => "running",
            TriggerStatus::Success => "success",
            TriggerStatus::Failed => "failed",
            TriggerStatus::Canceled => "canceled",
            TriggerStatus::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A final state: nothing may be reported after it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TriggerStatus::Success | TriggerStatus::Failed | TriggerStatus::Canceled | TriggerStatus::Skipped
        )
    }

    /// Held by a build system (its claim is a lease that runs out).
    pub fn is_active(self) -> bool {
        matches!(self, TriggerStatus::Claimed | TriggerStatus::Running)
    }
}

/// A state a build system reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedState {
    Running,
    Success,
    Failed,
    Canceled,
    Skipped,
}

impl ReportedState {
    pub fn status(self) -> TriggerStatus {
        match self {
            ReportedState::Running => TriggerStatus::Running,
            ReportedState::Success => TriggerStatus::Success,
            ReportedState::Failed => TriggerStatus::Failed,
            ReportedState::Canceled => TriggerStatus::Canceled,
            ReportedState::Skipped => TriggerStatus::Skipped,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(ReportedState::Running),
            "success" => Some(ReportedState::Success),
            "failed" => Some(ReportedState::Failed),
            "canceled" => Some(ReportedState::Canceled),
            "skipped" => Some(ReportedState::Skipped),
            _ => None,
        }
    }
}

/// Why a report does not fit the trigger's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the trigger is not claimed")]
    NotClaimed,
    #[error("the trigger has already finished")]
    Finished,
}
