//! Compiles `proto/herd.proto` with a protoc shipped inside a crate, so building needs no
//! manual install step. Also emits the file descriptor set for gRPC reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; setting PROTOC before invoking the compiler.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("herd_descriptor.bin"))
        .compile_protos(&["proto/herd.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/herd.proto");
    Ok(())
}
