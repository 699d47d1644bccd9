#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| juki_fuzz::vpcd_frames(data));
