#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| juki_fuzz::net_requests(data));
