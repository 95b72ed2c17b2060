//! The memory sampler's own cost: sampling a tree of 50 processes, as `faultline run` does
//! ten times a second. Run by bench/overhead.py (`cargo run --release --example sampler_cost`).

use faultline::memwatch::measure_sampling_cost;
use std::process::{Child, Command};

const PROCESSES: usize = 50;
const SAMPLES: u32 = 1000;

fn main() {
    let mut children: Vec<Child> =
        (0..PROCESSES).filter_map(|_| Command::new("sleep").arg("60").spawn().ok()).collect();
    let pids: Vec<i32> = children.iter().map(|c| c.id() as i32).collect();
    let cost = measure_sampling_cost(&pids, SAMPLES);
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "memory sampler: {} processes, {:.0} µs CPU per sample ({:.0} µs wall), {:.2}% of one core at 10 Hz (target < 1%)",
        cost.processes,
        cost.cpu_per_sample.as_secs_f64() * 1e6,
        cost.wall_per_sample.as_secs_f64() * 1e6,
        cost.core_share_at(10.0) * 100.0
    );
}
