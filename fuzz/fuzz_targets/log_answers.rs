#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| juki_fuzz::log_answers(data));
