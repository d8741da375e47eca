#![no_main]
// Any bytes as the body of the request: the reader must answer with problems, never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hwtransfer::api::fuzzing::decision_body(data));
