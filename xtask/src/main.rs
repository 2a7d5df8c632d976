//! Project chores. `cargo run --release -p xtask -- bench` runs the benchmark harness; see
//! BENCHMARKS.md for what it measures and the figures on the reference machine.

mod bench;
mod postmortem_bench;
mod slack_bench;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo run --release -p xtask -- bench [--seconds N] [--connections N] \
                 [--incidents N] [--database-url URL] [--only TEXT] [--postmortems N]\n\n\
                 bench: serve the real application on loopback with a generated data set and \
                 measure requests/s, p50 and p99 per operation beside a bare handler returning \
                 a body of the same size, the idle memory of the hindsight binary, the lint on \
                 1 MB, and export/import of N postmortems (default 10000; 0 skips)."
            );
            std::process::exit(2);
        }
    }
}
