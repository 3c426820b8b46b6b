//! The `rapid` binary's parts: the command line, the invoke front door, its
//! response bodies and the control API. They are a library so that the fuzz
//! targets (`fuzz/`) call the same parsers as the binary; `main.rs` only
//! starts them. Like the binary, nothing here may hold lifecycle state.

pub mod address;
pub mod body;
pub mod bursts;
pub mod cli;
pub mod control;
pub mod front_door;
pub mod functions;
pub mod header_timer;
pub mod hosts;
pub mod invoke_headers;
pub mod run;
pub mod timeline_page;
pub mod web;
