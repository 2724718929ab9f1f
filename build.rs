//! The shipped definitions and sample notices are embedded in the binary (`noticefeed init`);
//! a change to them must rebuild it, which cargo does not know from the `include_dir!` macro.
fn main() {
    println!("cargo:rerun-if-changed=feeds");
    println!("cargo:rerun-if-changed=notices");
}
