//! Test support shared by both packages' integration tests (a dev-dependency of each), so
//! that no test reaches into another package's `tests/` folder: [`front_door`], a private
//! Postfix instance started by `scripts/postfix-front-door`.

pub mod front_door;
