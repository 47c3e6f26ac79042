//! Compiles the committed `proto/` files with protox (pure Rust, no `protoc`) into an
//! encoded FileDescriptorSet that the server loads for its dynamic messages and serves
//! over reflection.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_file("sova/v1/sova.proto")?;
    let set = compiler.file_descriptor_set();
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("sova_descriptor.bin");
    std::fs::write(out, set.encode_to_vec())?;
    Ok(())
}
