//! The `rapid` binary's parts: the command line, the invoke front door, its
//! response bodies and the control API. They are a library so that the fuzz
//! targets (`fuzz/`) call the same parsers as the binary; `main.rs` only
//! starts them. Like the binary, nothing here may hold lifecycle state.

pub mod address;
pub mod body;
pub mod bursts;
pub mod cli;
pub mod control;
pub mod door;
pub mod drain;
pub mod durations;
pub mod front_door;
pub mod functions;
pub mod h2c;
pub mod header_timer;
pub mod hosts;
pub mod invoke_error;
pub mod invoke_headers;
pub mod invoke_http;
pub mod metrics;
pub mod probe_command;
pub mod probes;
pub mod replica;
pub mod run;
pub mod timeline_page;
pub mod trace_context;
pub mod web;
