//! The DynaSaur agent loop.
