//! Real-embedding retrieval: paraphrased queries must find the right function among ~20
//! distractors, through MiniLM and the embedded store. Needs `scripts/fetch-embedder.sh`.

mod common;

use std::sync::Arc;

use common::{access, fdef};
use herd_actions::{
    ActionLibrary, ActionStore, EdgeStore, Embedder, MiniLmEmbedder, SkipDocstrings,
};

/// (name, args, docstring, body)
const FIXTURE: &[(&str, &str, &str, &str)] = &[
    (
        "celsius_to_fahrenheit",
        "(c)",
        "Convert a temperature from Celsius to Fahrenheit.",
        "return c * 9 / 5 + 32",
    ),
    (
        "is_prime",
        "(n)",
        "Check whether an integer is a prime number.",
        "return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))",
    ),
    (
        "gcd",
        "(a, b)",
        "Compute the greatest common divisor of two integers.",
        "while b:\n    a, b = b, a % b\nreturn a",
    ),
    (
        "read_csv_rows",
        "(path)",
        "Read a CSV file and return its rows as dictionaries.",
        "import csv\nwith open(path) as f:\n    return list(csv.DictReader(f))",
    ),
    (
        "word_frequencies",
        "(text)",
        "Count how often each word occurs in a text.",
        "from collections import Counter\nreturn Counter(text.lower().split())",
    ),
    (
        "reverse_string",
        "(s)",
        "Return the characters of a string in reverse order.",
        "return s[::-1]",
    ),
    (
        "mean",
        "(xs)",
        "Compute the arithmetic average of a list of numbers.",
        "return sum(xs) / len(xs)",
    ),
    (
        "fetch_url",
        "(url)",
        "Download a web page and return its HTML text.",
        "import urllib.request\nreturn urllib.request.urlopen(url).read().decode()",
    ),
    (
        "parse_iso_date",
        "(s)",
        "Parse an ISO 8601 date string into a date object.",
        "import datetime\nreturn datetime.date.fromisoformat(s)",
    ),
    (
        "days_between",
        "(d1, d2)",
        "Number of days between two dates.",
        "return abs((d2 - d1).days)",
    ),
    (
        "solve_quadratic",
        "(a, b, c)",
        "Find the real roots of a quadratic equation ax^2 + bx + c = 0.",
        "d = b*b - 4*a*c\nreturn [(-b + s * d ** 0.5) / (2 * a) for s in (1, -1)] if d >= 0 else []",
    ),
    (
        "factorial",
        "(n)",
        "Compute n factorial, the product of all positive integers up to n.",
        "r = 1\nfor i in range(2, n + 1):\n    r *= i\nreturn r",
    ),
    (
        "extract_emails",
        "(text)",
        "Find all email addresses in a piece of text.",
        "import re\nreturn re.findall(r'[\\w.]+@[\\w.]+', text)",
    ),
    (
        "matrix_multiply",
        "(a, b)",
        "Multiply two matrices given as nested lists.",
        "return [[sum(x*y for x, y in zip(r, c)) for c in zip(*b)] for r in a]",
    ),
    (
        "haversine_km",
        "(lat1, lon1, lat2, lon2)",
        "Great-circle distance in kilometres between two latitude/longitude points.",
        "import math\nreturn 6371 * 2 * math.asin(1)",
    ),
    (
        "compound_interest",
        "(principal, rate, years)",
        "Final balance of an investment with annual compound interest.",
        "return principal * (1 + rate) ** years",
    ),
    (
        "roman_to_int",
        "(s)",
        "Convert a Roman numeral to an integer.",
        "v = {'I': 1, 'V': 5, 'X': 10}\nreturn sum(v[c] for c in s)",
    ),
    (
        "flatten",
        "(nested)",
        "Flatten a nested list into a single flat list.",
        "return [x for sub in nested for x in sub]",
    ),
    (
        "json_load_file",
        "(path)",
        "Load and parse a JSON file from disk.",
        "import json\nwith open(path) as f:\n    return json.load(f)",
    ),
    (
        "binary_search",
        "(xs, target)",
        "Find the index of a value in a sorted list using binary search.",
        "import bisect\nreturn bisect.bisect_left(xs, target)",
    ),
    (
        "std_dev",
        "(xs)",
        "Standard deviation of a sample of numbers.",
        "import statistics\nreturn statistics.stdev(xs)",
    ),
];

/// (paraphrased query, expected function)
const QUERIES: &[(&str, &str)] = &[
    (
        "turn degrees centigrade into fahrenheit",
        "celsius_to_fahrenheit",
    ),
    (
        "test if a number has no divisors other than 1 and itself",
        "is_prime",
    ),
    ("largest number dividing both a and b", "gcd"),
    ("load rows from a comma separated file", "read_csv_rows"),
    ("how many times does every word appear", "word_frequencies"),
    ("flip a string backwards", "reverse_string"),
    ("average value of some numbers", "mean"),
    ("get the html content of a website", "fetch_url"),
    ("convert a YYYY-MM-DD string to a date", "parse_iso_date"),
    ("how many days apart are two dates", "days_between"),
    ("roots of a second degree polynomial", "solve_quadratic"),
    ("product of the integers from 1 to n", "factorial"),
    ("pull out e-mail addresses from a string", "extract_emails"),
    (
        "distance on the earth between two gps coordinates",
        "haversine_km",
    ),
    (
        "how much money after years of interest",
        "compound_interest",
    ),
    ("parse roman numerals like XIV", "roman_to_int"),
    ("make a list of lists into one list", "flatten"),
    ("read a json document from a file", "json_load_file"),
    ("spread of values around the mean", "std_dev"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paraphrased_queries_find_the_right_function() {
    let embedder = tokio::task::spawn_blocking(MiniLmEmbedder::load_default)
        .await
        .expect("join")
        .expect("the local embedder (run scripts/fetch-embedder.sh)");
    assert_eq!(embedder.dim(), 384);
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ActionStore> = Arc::new(EdgeStore::open(dir.path()).await.expect("open"));
    let lib = ActionLibrary::new(store, Arc::new(embedder));
    let a = access("minilm", true, true);
    let fns: Vec<_> = FIXTURE
        .iter()
        .map(|(name, args, doc, body)| fdef(name, args, Some(doc), body, &[], &[]))
        .collect();
    let report = lib
        .add_from_cell(&a, "fixture", &fns, &SkipDocstrings)
        .await
        .expect("add");
    assert_eq!(report.created.len(), FIXTURE.len());

    let start = lib.start_task(&a).await.expect("start");
    let mut top1 = 0;
    let mut misses = Vec::new();
    for (query, expected) in QUERIES {
        let hits = lib
            .retrieve(&a, query, 3, start.seq)
            .await
            .expect("retrieve");
        let names: Vec<&str> = hits.iter().map(|h| h.name.as_str()).collect();
        if names.first() == Some(expected) {
            top1 += 1;
        }
        if !names.contains(expected) {
            misses.push(format!("{query:?} -> {names:?} (wanted {expected})"));
        }
    }
    assert!(misses.is_empty(), "not in the top 3: {misses:#?}");
    assert!(
        top1 * 10 >= QUERIES.len() * 9,
        "top-1 hits {top1}/{}",
        QUERIES.len()
    );
}
