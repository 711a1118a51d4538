//! Inline SVG charts drawn with plotters: accuracy bars with Wilson intervals per
//! benchmark, library growth curves, and cost vs accuracy. Each returns SVG markup.

use std::collections::{BTreeMap, HashMap};

use plotters::prelude::*;

use crate::error::{ReportError, Result};
use crate::model::{AccuracyRow, CostRow, GrowthSeries};

fn chart_err<E: std::fmt::Display>(chart: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Chart {
        chart: chart.to_string(),
        message: e.to_string(),
    }
}

fn color(i: usize) -> RGBAColor {
    Palette99::pick(i).mix(1.0)
}

/// One bar chart per benchmark: accuracy (correct / scored) per backbone × arm, with the
/// Wilson 95% interval as an error bar.
pub fn accuracy_charts(rows: &[AccuracyRow]) -> Result<Vec<String>> {
    let mut by_bench: BTreeMap<&str, Vec<&AccuracyRow>> = BTreeMap::new();
    for r in rows {
        by_bench.entry(r.benchmark.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for (bench, rows) in by_bench {
        let name = format!("accuracy {bench}");
        let err = chart_err(&name);
        let labels: Vec<String> = rows
            .iter()
            .map(|r| format!("{}/{}", r.backbone, r.arm))
            .collect();
        let n = rows.len() as u32;
        let width = (160 + 110 * n).clamp(420, 1600);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width, 360)).into_drawing_area();
            root.fill(&WHITE).map_err(&err)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("{bench}: accuracy (correct / scored), Wilson 95%"),
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((0u32..n).into_segmented(), 0f64..1f64)
                .map_err(&err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n as usize)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) => {
                        labels.get(*i as usize).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                })
                .y_desc("accuracy")
                .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
                .draw()
                .map_err(&err)?;
            chart
                .draw_series(rows.iter().enumerate().map(|(i, r)| {
                    let i = i as u32;
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), 0.0),
                            (SegmentValue::Exact(i + 1), r.accuracy.unwrap_or(0.0)),
                        ],
                        color(i as usize).filled(),
                    );
                    bar.set_margin(0, 0, 12, 12);
                    bar
                }))
                .map_err(&err)?;
            chart
                .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                    let w = r.wilson?;
                    let x = SegmentValue::CenterOf(i as u32);
                    Some(PathElement::new(
                        vec![(x.clone(), w.low), (x, w.high)],
                        BLACK.stroke_width(2),
                    ))
                }))
                .map_err(&err)?;
            root.present().map_err(&err)?;
        }
        out.push(svg);
    }
    Ok(out)
}

/// Library size against tasks finished, one line per backbone × arm.
pub fn growth_chart(series: &[GrowthSeries]) -> Result<String> {
    let err = chart_err("library growth");
    let max_x = series.iter().map(|s| s.tasks).max().unwrap_or(1).max(1) as f64;
    let max_y = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Action library size as tasks finish", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..max_x, 0f64..max_y * 1.05)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("tasks finished")
            .y_desc("library size")
            .draw()
            .map_err(&err)?;
        for (i, s) in series.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|&(x, y)| (x as f64, y as f64)),
                    c.stroke_width(2),
                ))
                .map_err(&err)?
                .label(format!("{}/{}", s.backbone, s.arm))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Mean cost per task against accuracy, one point per benchmark × backbone × arm.
pub fn cost_accuracy_chart(accuracy: &[AccuracyRow], cost: &[CostRow]) -> Result<String> {
    let err = chart_err("cost vs accuracy");
    let acc: HashMap<(&str, &str, &str), Option<f64>> = accuracy
        .iter()
        .map(|r| {
            (
                (r.benchmark.as_str(), r.backbone.as_str(), r.arm.as_str()),
                r.accuracy,
            )
        })
        .collect();
    let points: Vec<(String, f64, f64)> = cost
        .iter()
        .filter_map(|c| {
            let a = (*acc.get(&(c.benchmark.as_str(), c.backbone.as_str(), c.arm.as_str()))?)?;
            Some((
                format!("{}/{}/{}", c.benchmark, c.backbone, c.arm),
                c.mean_cost_usd?,
                a,
            ))
        })
        .collect();
    let max_x = points.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let max_x = if max_x > 0.0 { max_x * 1.15 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Cost per task vs accuracy", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..max_x, 0f64..1f64)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("mean cost per task ($)")
            .y_desc("accuracy")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, (label, x, y))| {
                EmptyElement::at((*x, *y))
                    + Circle::new((0, 0), 4, color(i).filled())
                    + Text::new(label.clone(), (6, -10), ("sans-serif", 11))
            }))
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}
