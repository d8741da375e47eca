#![no_main]
// Any bytes as an uploaded CSV whitelist: read and checked, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hwtransfer::api::fuzzing::whitelist_import(data, false));
