fn main() {
    println!("faultline");
}
