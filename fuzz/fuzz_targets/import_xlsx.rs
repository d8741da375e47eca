#![no_main]
// Any bytes as an uploaded XLSX whitelist (a zip of XML parts): read and checked, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hwtransfer::api::fuzzing::whitelist_import(data, true));
