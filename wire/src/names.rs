//! Lambda header and trailer names used by more than one crate, in the
//! lower case HTTP/1 header maps use.

/// The runtime's error type: a header of `/invocation/{id}/error`, a
/// trailer of a streamed response, and a trailer of rapid's streamed answer.
pub const FUNCTION_ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// The error body (base64) at the end of a streamed response.
pub const FUNCTION_ERROR_BODY: &str = "lambda-runtime-function-error-body";
