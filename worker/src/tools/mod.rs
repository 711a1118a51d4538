//! User-defined actions (Au) served to the kernel through host calls.
