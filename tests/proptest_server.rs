//! Property tests of the fake server (being written; see the next commits).
