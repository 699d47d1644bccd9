//! The `juki` command: arguments, prompts, messages and exit codes for each audience (the
//! citizen, the municipal counter, the JPKI certification authority, the national authority),
//! and the demo of a card's whole life. The layers under it ([`juki_host`], [`juki_jpki`],
//! [`juki_counter`]) never prompt, print or exit.

pub mod cli;
pub mod commands;
pub mod counter_cmd;
pub mod demo;
pub mod failure;
pub mod jpki_cmd;
pub mod pin_input;
