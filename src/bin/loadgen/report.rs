//! Turns runs (`--json` lines) into a table of medians by scenario and connections, the ratio of
//! boxoffice to the best baseline, and a plot of throughput and p99 against connections.
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::{Report, Variant};

/// Runs of one kind (scenario, variant, events, label) by number of connections.
type Groups =
    BTreeMap<(String, Option<Variant>, usize, Option<String>), BTreeMap<usize, Vec<Report>>>;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn name(scenario: &str, variant: Option<Variant>, events: usize, label: Option<&str>) -> String {
    let kind = match variant {
        Some(Variant::RowLock) => format!("{scenario} (row lock)"),
        Some(Variant::Conditional) => format!("{scenario} (conditional update)"),
        None if events > 1 => format!("{scenario} ({events} events)"),
        None => scenario.to_owned(),
    };
    match label {
        Some(label) => format!("{kind} [{label}]"),
        None => kind,
    }
}

/// Median throughput and p99 (ms) of each kind by connections.
fn medians(groups: &Groups) -> BTreeMap<String, Vec<(usize, f64, f64, usize)>> {
    groups
        .iter()
        .map(|((scenario, variant, events, label), by_connections)| {
            let points = by_connections
                .iter()
                .map(|(&connections, runs)| {
                    let per_second = median(runs.iter().map(|r| r.per_second).collect());
                    let p99 = median(runs.iter().map(|r| r.latency.p99_ms).collect());
                    (connections, per_second, p99, runs.len())
                })
                .collect();
            (name(scenario, *variant, *events, label.as_deref()), points)
        })
        .collect()
}

pub fn run(inputs: &[PathBuf], plot: Option<&Path>) -> anyhow::Result<()> {
    let mut groups = Groups::new();
    for input in inputs {
        let text = std::fs::read_to_string(input).with_context(|| input.display().to_string())?;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| l.starts_with('{')) {
            let report: Report = serde_json::from_str(line)
                .with_context(|| format!("{}:{}", input.display(), n + 1))?;
            groups
                .entry((
                    report.scenario.clone(),
                    report.variant,
                    report.events,
                    report.label.clone(),
                ))
                .or_default()
                .entry(report.connections)
                .or_default()
                .push(report);
        }
    }
    let medians = medians(&groups);
    println!("| run | connections | runs | median per second | median p99 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, points) in &medians {
        for (connections, per_second, p99, runs) in points {
            println!("| {name} | {connections} | {runs} | {per_second:.0} | {p99:.1} ms |");
        }
    }
    let best_baseline = medians
        .iter()
        .filter(|(name, _)| name.starts_with("baseline"))
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    if best_baseline > 0.0 {
        println!("\nbest baseline median: {best_baseline:.0} holds/s");
        for (connections, per_second, _, _) in medians.get("flash-sale").into_iter().flatten() {
            println!(
                "flash-sale at {connections} connections: {:.1}x the best baseline",
                per_second / best_baseline
            );
        }
    }
    if let Some(path) = plot {
        draw(&medians, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("\nplot: {}", path.display());
    }
    Ok(())
}

/// Two panels, holds/s and p99 against connections (log scales), one line per kind of run.
fn draw(
    medians: &BTreeMap<String, Vec<(usize, f64, f64, usize)>>,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let lines: Vec<_> = medians
        .iter()
        .filter(|(name, _)| *name == "flash-sale" || name.starts_with("baseline"))
        .collect();
    let connections = lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0 as f64));
    let (low, high) = connections.fold((f64::MAX, 1.0_f64), |(l, h), c| (l.min(c), h.max(c)));
    let low = low.min(high);
    let root = SVGBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let colors = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    type Pick = fn(&(usize, f64, f64, usize)) -> f64;
    let charts: [(&str, &str, Pick); 2] = [
        ("Throughput (median)", "holds per second", |p| p.1),
        ("Latency p99 (median)", "p99 (ms)", |p| p.2),
    ];
    for (panel, (title, label, pick)) in panels.iter().zip(charts) {
        let top = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(pick))
            .fold(1.0_f64, f64::max);
        let bottom = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(pick))
            .fold(top, f64::min)
            .max(0.1);
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (low * 0.8..high * 1.25).log_scale(),
                (bottom * 0.5..top * 2.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("concurrent connections")
            .y_desc(label)
            .draw()?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let color = colors[i % colors.len()];
            let series: Vec<(f64, f64)> = points.iter().map(|p| (p.0 as f64, pick(p))).collect();
            chart
                .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(
                series
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
