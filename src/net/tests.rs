//! Connection-layer tests over real sockets.
