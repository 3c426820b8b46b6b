//! The extensions as the control API's internal state and telemetry's
//! `platform.extension` describe them, and the exit errors SHUTDOWN's
//! report names.

use super::Extensions;
use crate::lifecycle::ExtensionState;
use interop::state::{ExtensionDescription, StateDescription};

impl Extensions {
    pub(in crate::engine) fn exit_errors(&self) -> Vec<(String, String)> {
        self.registered
            .iter()
            .filter_map(|e| e.exit_error.clone().map(|t| (e.name.clone(), t)))
            .collect()
    }

    /// Each extension's state for the control API: the registered ones,
    /// then the launched ones that have not registered (`Started`).
    pub(in crate::engine) fn describe(&self) -> Vec<ExtensionDescription> {
        let registered = self.registered.iter().map(|ext| ExtensionDescription {
            name: ext.name.clone(),
            id: Some(ext.id.to_string()),
            state: StateDescription {
                name: ext.state.name(),
                last_modified_ms: crate::engine::epoch_ms(ext.since),
                response_time_ns: 0,
            },
            error_type: ext.init_error.clone().or_else(|| ext.exit_error.clone()),
        });
        let started = self
            .processes
            .iter()
            .filter(|p| !self.is_registered(&p.name))
            .map(|p| ExtensionDescription {
                name: p.name.clone(),
                id: None,
                state: StateDescription {
                    name: if p.exited_max_rss_kb.is_some() {
                        ExtensionState::Exited.name()
                    } else {
                        ExtensionState::Started.name()
                    },
                    last_modified_ms: crate::engine::epoch_ms(p.started),
                    response_time_ns: 0,
                },
                error_type: None,
            });
        registered.chain(started).collect()
    }

    /// Each registered extension as `platform.extension` reports it at the
    /// end of init: its state, what it registered for, its init error.
    pub(in crate::engine) fn init_records(&self) -> Vec<telemetry::events::ExtensionInit> {
        self.registered
            .iter()
            .map(|ext| telemetry::events::ExtensionInit {
                name: ext.name.clone(),
                state: ext.state.name(),
                events: [(ext.invoke, "INVOKE"), (ext.shutdown, "SHUTDOWN")]
                    .into_iter()
                    .filter_map(|(registered, name)| registered.then_some(name))
                    .collect(),
                error_type: ext.init_error.clone(),
            })
            .collect()
    }
}
