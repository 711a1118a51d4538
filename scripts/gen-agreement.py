#!/usr/bin/env python3
"""Generates the scorer-agreement corpus: datasets/tests/fixtures/agreement/<bench>.jsonl.

Each row is {"prediction", "gold", "expected", "case"} (TabMWP rows add "unit" and
"choices"), where `expected` is the verdict of the reference implementation, RUN here:
  math    math-verify (parse + verify), pinned below;
  gaia    the GAIA leaderboard's question_scorer, written out as the published rule states;
  tabmwp  PromptPG's extract_prediction + normalize_answer + case-insensitive match;
  gpqa    simple-evals' `Answer: X` pattern (first match, exact letter);
  aime    the last \\boxed{} (else the whole answer) as a Python int, compared as integers.

Rows come from templates plus hand-written hard cases; the output is deterministic.
The script installs what it needs into a cached venv ($HOME/.cache/herd/agreement-venv)
and re-runs itself there. Usage: scripts/gen-agreement.py [--out DIR]. Not part of CI:
the generated fixtures are committed and the Rust test (datasets/tests/agreement.rs)
needs no Python.
"""

import json
import os
import random
import re
import string
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

PINS = [
    "math-verify==0.9.0",
    "latex2sympy2_extended==1.11.0",
    "antlr4-python3-runtime==4.13.2",
    "sympy==1.14.0",
    "mpmath==1.3.0",
]
VENV = Path(os.environ.get("HOME", "/root")) / ".cache/herd/agreement-venv"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "datasets/tests/fixtures/agreement"


def ensure_venv():
    """Creates/updates the cached venv (idempotent) and re-executes inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    marker = VENV / "herd-pins.txt"
    want = "\n".join(PINS) + "\n"
    py = VENV / "bin/python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not marker.exists() or marker.read_text() != want:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PINS], check=True)
        marker.write_text(want)
    os.execv(str(py), [str(py), *sys.argv])


# ---------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------


def math_reference(gold, prediction):
    from math_verify import parse, verify

    g = parse("\\boxed{" + gold + "}")
    p = parse(prediction)
    return bool(verify(g, p))


# GAIA: the leaderboard's question_scorer, as published (scorer.py of the leaderboard).
def gaia_normalize_number_str(number_str):
    for char in ["$", "%", ","]:
        number_str = number_str.replace(char, "")
    try:
        return float(number_str)
    except ValueError:
        return float("inf")


def gaia_split_string(s, char_list=(",", ";")):
    return re.split(f"[{''.join(char_list)}]", s)


def gaia_normalize_str(input_str, remove_punct=True):
    no_spaces = re.sub(r"\s", "", input_str)
    if remove_punct:
        translator = str.maketrans("", "", string.punctuation)
        return no_spaces.lower().translate(translator)
    return no_spaces.lower()


def gaia_is_float(element):
    try:
        float(element)
        return True
    except ValueError:
        return False


def gaia_reference(gold, prediction):
    if gaia_is_float(gold):
        return gaia_normalize_number_str(prediction) == float(gold)
    if any(c in gold for c in [",", ";"]):
        gt = gaia_split_string(gold)
        ma = gaia_split_string(prediction)
        if len(gt) != len(ma):
            return False
        out = []
        for m, g in zip(ma, gt):
            if gaia_is_float(g):
                out.append(gaia_normalize_number_str(m) == float(g))
            else:
                out.append(
                    gaia_normalize_str(m, remove_punct=False)
                    == gaia_normalize_str(g, remove_punct=False)
                )
        return all(out)
    return gaia_normalize_str(prediction) == gaia_normalize_str(gold)


# TabMWP: PromptPG's run_gpt3 (extract_prediction, normalize_answer, lower-case match).
OPTION_INDS = ["A", "B", "C", "D", "E", "F"]


def tab_similarity(a, b):
    if a == b:
        return 2.0
    if " " in a or " " in b:
        sa = a.split(" ")
        sb = b.split(" ")
        return len(set(sa) & set(sb)) / max(len(sa), len(sb))
    return 0.0


def tab_extract(output, options):
    output = re.sub(r"\$?\\frac\{([\d\.\,\-]+)\}\{([\d\.\,]+)\}\$?", r"\1/\2", output)
    output = re.sub(r"(?<![AP]\.M)\.$", "", output)
    output = re.sub(r"(?<=\d)[\=](?=[\-\$\d])", " = ", output)
    output = re.sub("\u2212", "-", output)
    if options:
        patterns = [
            r"^\(([A-Za-z])\)$",
            r"^([A-Za-z])$",
            r"^([A-Za-z]). ",
            r"[Th]he answer is ([A-Z])",
            r"^\(([A-Za-z])\) [\s\S]+$",
            r"[Th]he answer is \(([A-Za-z])\) [\s\S]+$",
        ]
        for p in patterns:
            res = re.findall(p, output)
            if res:
                pred = res[0].upper()
                if pred in OPTION_INDS:
                    ind = OPTION_INDS.index(pred)
                    # The reference picks a random option here; the corpus avoids the case.
                    assert ind < len(options), "letter beyond the options"
                    return options[ind]
        scores = [tab_similarity(x, output) for x in options]
        return options[scores.index(max(scores))]
    patterns = [
        r"[Th]he answer is ([\s\S]+)$",
        r"[Th]he table shows that ([\d\$\.\,\/\:]+) ",
        r" = ([\d\$\.\,\/\:]+)",
        r"(?<= be| is) ([\-\d\$\.\,\/\:]{0,}[\d]+)",
        r"(?<= are| was) ([\-\d\$\.\,\/\:]{0,}[\d]+)",
        r"(?<= were) ([\-\d\$\.\,\/\:]{0,}[\d]+)",
        r" ([\d\$\.\,\/\:]+ [AP]\.M\.)",
        r"([\-\d\$\.\,\/\:]{0,}[\d]+)",
    ]
    for p in patterns:
        res = re.findall(p, output)
        if res:
            pred = res[-1].strip()
            if pred.endswith(".") and ".M." not in pred:
                pred = pred[:-1]
            return pred
    return output


def tab_normalize(text, unit):
    text = re.sub(r"^[\$]", "", text)
    text = re.sub(r"[\,\.\,\/]$", "", text)
    if re.match(r"^[-+]?[\d,./]+$", text) is not None:
        text = text.replace(",", "")
        if re.match(r"[-+]?\d+$", text) is not None:
            number = int(text)
        elif "/" in text:
            nums = text.split("/")
            number = round(float(nums[0]) / float(nums[1]), 3)
        else:
            number = round(float(text), 3)
        return re.sub(r"\.[0]+$", "", str(number))
    if unit:
        text = text.replace(unit, "").strip()
    return text


def tabmwp_reference(gold, prediction, unit, choices):
    pred = tab_extract(prediction, choices)
    return tab_normalize(gold, unit).lower() == tab_normalize(pred, unit).lower()


# GPQA: simple-evals' ANSWER_PATTERN_MULTICHOICE, re.search (first match), exact letter.
GPQA_PATTERN = r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?"


def gpqa_reference(gold, prediction):
    m = re.search(GPQA_PATTERN, prediction)
    return (m.group(1) if m else None) == gold


# AIME: an integer 0-999 compared as an integer; the answer is the last \boxed{} if any.
def last_boxed(s):
    i = s.rfind("\\boxed{")
    if i < 0:
        return None
    depth, start = 0, i + len("\\boxed")
    for j in range(start, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return s[start + 1 : j]
    return None


def aime_reference(gold, prediction):
    b = last_boxed(prediction)
    ans = (b if b is not None else prediction).strip().strip("$").strip()
    try:
        v = int(ans)
    except ValueError:
        return False
    return 0 <= v <= 999 and v == int(gold)


# ---------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------


class Rows:
    def __init__(self, name):
        self.name = name
        self.rows = []
        self.seen = set()

    def add(self, case, gold, prediction, **extra):
        key = (gold, prediction)
        if key in self.seen:
            return
        self.seen.add(key)
        self.rows.append({"prediction": prediction, "gold": gold, "case": case, **extra})


# (case tag, gold, equivalent-looking forms, different answers). Which are truly equal is
# decided by the reference, not by these lists.
MATH_FAMILIES = [
    ("frac", r"\frac{1}{2}",
     ["0.5", r"\dfrac{1}{2}", r"\frac12", "1/2", r"\tfrac{1}{2}", ".5", r"\frac{2}{4}", "0.50"],
     [r"\frac{1}{3}", "2", r"-\frac{1}{2}", "0.25", r"\frac{2}{1}"]),
    ("frac", r"\frac{3}{4}", ["0.75", r"\dfrac34", "3/4", r"\frac{6}{8}"],
     ["0.7", r"\frac{4}{3}", "0.74", "3.4"]),
    ("frac-repeating", r"\frac{1}{3}", [r"\frac{2}{6}", "1/3", r"\dfrac{1}{3}", "0.333333"],
     ["0.33", "0.333", r"\frac{1}{4}", "3"]),
    ("frac-neg", r"-\frac{2}{3}", [r"\frac{-2}{3}", "-2/3", r"\frac{2}{-3}", r"-\dfrac{2}{3}"],
     [r"\frac{2}{3}", r"-\frac{3}{2}", "-0.66"]),
    ("mixed-number", r"\frac{7}{2}", [r"3\frac{1}{2}", "3.5", r"3 \frac{1}{2}", r"\frac{14}{4}"],
     [r"3\frac{1}{3}", "3", r"\frac{2}{7}"]),
    ("mixed-number", r"2\frac{1}{4}", [r"\frac{9}{4}", "2.25", r"\frac94"],
     [r"\frac{1}{2}", "2.5", r"2\frac{1}{3}"]),
    ("frac-sqrt", r"\frac{\sqrt{3}}{2}",
     [r"\frac{1}{2}\sqrt{3}", r"\frac{\sqrt3}{2}", r"\sqrt{3}/2", r"\frac{3}{2\sqrt{3}}"],
     [r"\frac{\sqrt{2}}{2}", r"\sqrt{3}", r"\frac{3}{2}"]),
    ("frac-sqrt", r"\frac{\sqrt{2}}{2}", [r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt2}2", r"\sqrt{\frac{1}{2}}"],
     [r"\sqrt{2}", r"\frac{1}{2}"]),
    ("integer", "42", ["42.0", "42.00", r"\text{42}", "042", r"42\text{ units}"],
     ["41", "-42", "4.2", "420"]),
    ("negative", "-5", ["-5.0", "\u22125", "-(5)", "{-5}"], ["5", "-6", r"\frac{-5}{2}"]),
    ("integer-vs-frac", "2", [r"\frac{4}{2}", "2.0", r"\sqrt{4}"], [r"\frac{1}{2}", "2.1", "-2"]),
    ("decimal-vs-frac", "0.25", [r"\frac{1}{4}", r"\frac14", "1/4", ".25", r"25\%"],
     ["0.2", r"\frac{1}{5}", "2.5"]),
    ("decimal-vs-frac", "1.5", [r"\frac{3}{2}", "3/2", "1.50", r"1\frac{1}{2}"],
     ["1.05", r"\frac{2}{3}", "15"]),
    ("decimal-vs-frac", "0.125", [r"\frac{1}{8}", "1/8"], ["0.12", "0.13", r"\frac18 + 1"]),
    ("sqrt", r"2\sqrt{3}",
     [r"\sqrt{12}", r"2\sqrt3", r"2 \sqrt{3}", r"\sqrt{3}\cdot 2", r"\sqrt{3} \times 2"],
     [r"\sqrt{6}", r"3\sqrt{2}", "3.46", r"2\sqrt{2}"]),
    ("sqrt", r"\sqrt{2}", ["2^{1/2}", r"\sqrt2", r"\frac{2}{\sqrt{2}}"], ["1.41", "2", r"\sqrt{3}"]),
    ("pi", r"3\pi", [r"3 \pi", r"\pi \cdot 3", r"\frac{6\pi}{2}"], ["9.42", "3", r"\pi", r"\frac{\pi}{3}"]),
    ("pi", r"\frac{\pi}{6}", [r"\frac{1}{6}\pi", r"\pi/6"], ["30", r"\frac{\pi}{3}", "0.52"]),
    ("units", r"5\text{ cm}",
     ["5", r"5 \text{ cm}", r"5\text{ centimeters}", "5 cm", r"5\,\text{cm}"],
     ["6", r"6\text{ cm}", "50"]),
    ("units", r"12\text{ inches}", ["12", r"12 \text{inches}", "12 inches"], ["1", "13", r"12\text{ feet}"]),
    ("money", r"\$5.50", ["5.50", "5.5", r"\$5.5", r"5.50\text{ dollars}"], ["5.05", "550", r"\$5"]),
    ("money", r"\$1,\!000", ["1000", "1,000", r"\$1000"], ["100", "10000"]),
    ("percent", r"25\%", ["25", r"25 \%", "25%", "0.25"], ["20", r"20\%", "2.5"]),
    ("percent", r"12.5\%", ["12.5", r"\frac{25}{2}\%"], ["12", "125"]),
    ("degrees", r"30^\circ",
     ["30", r"30^{\circ}", "30 degrees", r"30\text{ degrees}", "30\u00b0"],
     ["60", r"150^\circ", r"\frac{\pi}{6}"]),
    ("degrees", "120", [r"120^\circ", r"120^{\circ}"], ["60", "240"]),
    ("interval", r"(-\infty, 3]", [r"(-\infty,3]", r"\left(-\infty, 3\right]", r"(-\infty , 3]"],
     [r"(-\infty,3)", r"[3,\infty)", r"(-\infty, 3.5]"]),
    ("interval", "[2, 5)", ["[2,5)", r"\left[2, 5\right)"], ["[2,5]", "(2,5)", "[2,6)"]),
    ("interval-union", r"(0, 1) \cup (2, 3)", [r"(0,1)\cup(2,3)", r"(2,3) \cup (0,1)"],
     ["(0,3)", r"(0,1) \cup (2,4)"]),
    ("set", r"\{1, 2\}", [r"\{2,1\}", r"\{1,2\}"], [r"\{1,3\}", r"\{1\}"]),
    ("list", "1, 2, 3", ["3, 1, 2", "1,2,3"], ["1, 2", "1, 2, 4"]),
    ("list", "-2, 5", ["5, -2", "5,-2"], ["2, 5", "-2"]),
    ("tuple", r"(3, \frac{\pi}{2})",
     [r"(3,\frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)", r"(3, \frac{1}{2}\pi)"],
     [r"(\frac{\pi}{2}, 3)", r"(3, \pi)", r"[3, \frac{\pi}{2}]"]),
    ("tuple", "(1, -2)", ["(1,-2)", r"\left(1,-2\right)"], ["(-2, 1)", "(1, 2)", "[1, -2]"]),
    ("matrix", r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}",
     [r"\begin{pmatrix}1\\-2\end{pmatrix}", r"\begin{bmatrix} 1 \\ -2 \end{bmatrix}",
      r"\begin{pmatrix} 1.0 \\ -2 \end{pmatrix}"],
     [r"\begin{pmatrix} -2 \\ 1 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"]),
    ("matrix", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
     [r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix} \frac{2}{2} & 2 \\ 3 & 4 \end{pmatrix}"],
     [r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}"]),
    ("equation", "x=3", ["3", "x = 3"], ["x=4", "4", "y=3"]),
    ("equation", "3", ["x=3", "x = 3", "a=3"], ["x=4"]),
    ("equation", "y = 2x + 1", ["y=2x+1", "2x+1", "y = 1 + 2x"], ["y = 2x - 1", "y=x+1"]),
    ("text", r"\text{Evelyn}", ["Evelyn", r"\text{evelyn}", r"\textbf{Evelyn}", r"\mbox{Evelyn}"],
     ["Devon", r"\text{Eve}"]),
    ("text-choice", r"\text{(C)}", ["(C)", "C", r"\text{C}"], ["(D)", "B"]),
    ("scientific", r"1.5 \times 10^{3}", ["1500", r"1.5\cdot10^3", "1,500", r"15 \times 10^2"],
     ["150", r"1.5\times10^{4}"]),
    ("scientific", r"3 \times 10^{-2}", ["0.03", r"\frac{3}{100}"], ["0.3", "3"]),
    ("polynomial", "x^2+2x+1", ["(x+1)^2", "x^2 + 2x + 1", "1+2x+x^2"], ["x^2+1", "(x-1)^2"]),
    ("polynomial", "2x-6", ["2(x-3)", "-6+2x"], ["2x+6", "x-3"]),
    ("complex", "1+2i", ["2i+1", "1 + 2i"], ["1-2i", "2+i"]),
    ("thousands", "10000", ["10,000", "10{,}000", r"10\,000", "10000.0"], ["1000", "100000"]),
    ("power", "1024", ["2^{10}"], ["2^{9}", "1000"]),
    ("binomial", "10", [r"\binom{5}{2}", r"\dbinom{5}{2}"], [r"\binom{5}{3} + 1"]),
    ("log", "3", [r"\log_2 8"], [r"\log_2 9"]),
]

# Whole predictions (wrapping, several boxes, prose), for the given gold.
MATH_HAND = [
    ("boxed-wrap", "5", r"\boxed 5"),
    ("boxed-wrap", "5", r"$\boxed{5}$"),
    ("boxed-wrap", "5", r"\fbox{5}"),
    ("boxed-wrap", "5", r"First \boxed{4}, but on reflection \boxed{5}"),
    ("boxed-wrap", "4", r"First \boxed{4}, but on reflection \boxed{5}"),
    ("boxed-wrap", r"\frac{1}{2}", r"\boxed{1} and then \boxed{\frac12}"),
    ("boxed-wrap", r"\frac{1}{\sqrt{2}}", r"Thus $\boxed{\frac{1}{\sqrt{2}}}$."),
    ("boxed-wrap", r"\{1, 2\}", r"\boxed{\{1,2\}}"),
    ("boxed-wrap", "12", "The final answer is $12$. I hope it is correct."),
    ("boxed-wrap", "12", "Final Answer: 12"),
    ("boxed-wrap", "12", r"Therefore the answer is \(12\)."),
    ("boxed-wrap", "12", r"\[\boxed{12}\]"),
    ("boxed-wrap", "12", r"\boxed{\text{12}}"),
    ("boxed-wrap", "12", r"\boxed{13}"),
    ("boxed-wrap", "12", "I could not solve it."),
    ("boxed-wrap", r"\frac{3}{5}", r"The probability is $\boxed{\dfrac{3}{5}}$."),
    ("boxed-wrap", r"\frac{3}{5}", r"The probability is $\boxed{\dfrac{5}{3}}$."),
    ("boxed-nested", r"\frac{\sqrt{5}}{5}", r"\boxed{\frac{\sqrt{5}}{5}}"),
    ("boxed-nested", r"\frac{\sqrt{5}}{5}", r"\boxed{\frac{1}{\sqrt{5}}}"),
    ("empty", "7", r"\boxed{}"),
    ("text-units", "4", r"\boxed{4\text{ apples}}"),
    ("text-units", r"4\text{ apples}", r"\boxed{5\text{ apples}}"),
    ("degrees", "90", r"\boxed{\frac{\pi}{2}}"),
    ("infinity", r"\infty", r"\boxed{\infty}"),
    ("infinity", r"(-\infty, \infty)", r"\boxed{\mathbb{R}}"),
    ("expression", r"\sin x", r"\boxed{\sin(x)}"),
    ("expression", r"\frac{x+1}{x-1}", r"\boxed{\frac{x-1}{x+1}}"),
    ("expression", r"\frac{x+1}{x-1}", r"\boxed{(x+1)/(x-1)}"),
    ("expression", r"\pi r^2", r"\boxed{\pi r^{2}}"),
    ("expression", r"\pi r^2", r"\boxed{\pi r}"),
    ("expression", r"2\cos \theta", r"\boxed{2 \cos(\theta)}"),
    ("expression", r"\log x", r"\boxed{\ln x}"),
    ("negative", "-3", "\\boxed{\u22123}"),
    ("inequality", r"x > 2", r"\boxed{x>2}"),
    ("inequality", r"x > 2", r"\boxed{(2, \infty)}"),
]

# Predictions are mostly boxed (the MATH convention); every few pairs also get a prose,
# inline-math or bare form.
MATH_WRAPS = [
    lambda x: "The answer is $" + x + "$.",
    lambda x: "$" + x + "$",
    lambda x: x,
]


def math_rows():
    rows = Rows("math")
    k = 0
    for case, gold, same, diff in MATH_FAMILIES:
        for pred in same + diff:
            rows.add(case, gold, "\\boxed{" + pred + "}")
            if k % 3 == 0:
                rows.add(case + "/unboxed", gold, MATH_WRAPS[(k // 3) % len(MATH_WRAPS)](pred))
            k += 1
    for case, gold, pred in MATH_HAND:
        rows.add(case, gold, pred)
    rng = random.Random(15)
    dens = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 20, 25]
    for _ in range(40):
        b = rng.choice(dens)
        a = rng.randint(1, 3 * b)
        f = Fraction(a, b)
        if f.denominator == 1:
            continue
        neg = rng.random() < 0.25
        n, d = f.numerator, f.denominator
        sign = "-" if neg else ""
        gold = f"{sign}\\frac{{{n}}}{{{d}}}"
        val = -f if neg else f
        forms = [f"{sign}{n}/{d}", f"{sign}\\dfrac{{{n}}}{{{d}}}",
                 f"\\frac{{{sign}{2 * n}}}{{{2 * d}}}", f"{sign}\\frac{{{d}}}{{{n}}}",
                 f"{sign}\\frac{{{n + 1}}}{{{d}}}", f"{'' if neg else '-'}\\frac{{{n}}}{{{d}}}"]
        dd = d
        while dd % 2 == 0:
            dd //= 2
        while dd % 5 == 0:
            dd //= 5
        if dd == 1:
            forms.append(str(float(val)))
        else:
            forms.append(f"{float(val):.2f}")
        for i, p in enumerate(forms):
            rows.add("random-frac", gold, "\\boxed{" + p + "}" if i % 4 else "$" + p + "$")
    for _ in range(25):
        a = rng.randint(2, 9)
        b = rng.choice([2, 3, 5, 6, 7, 10, 11])
        gold = f"{a}\\sqrt{{{b}}}"
        for p in [f"\\sqrt{{{a * a * b}}}", f"{a}\\sqrt{b}", f"\\sqrt{{{a * b}}}", f"{a + 1}\\sqrt{{{b}}}"]:
            rows.add("random-sqrt", gold, "\\boxed{" + p + "}")
    for _ in range(20):
        n = rng.randint(-500, 5000)
        forms = [f"{n}.0", f"{n + 1}", f"{n:,}", f"{n}\\%"]
        for p in forms:
            rows.add("random-int", str(n), "\\boxed{" + p + "}")
    out = []
    for r in rows.rows:
        r["expected"] = math_reference(r["gold"], r["prediction"])
        out.append(r)
    return out


def gaia_rows():
    rows = Rows("gaia")
    hand = {
        "number": ("17", ["17", " 17 ", "17.0", "17.00", "1.7e1", "+17", "seventeen", "17 apples",
                          "$17", "17%", "16", "17.", "1_7", "1__7", "_17", "17 ", "17\n", "0x11",
                          "1.7E1", "17,0", "1,7"]),
        "number-commas": ("1000", ["1,000", "$1,000", "1000.0", "1 000", "1.000", "10,00",
                                   "1,000.00", "$1000", "1000 dollars", "one thousand", "1e3"]),
        "number-decimal": ("0.5", [".5", "0.50", "1/2", "50%", "0.5%", "$0.5", "0.500001",
                                   "5e-1", "0,5"]),
        "number-neg": ("-7", ["-7", "\u22127", "7", "-7.0", "(7)", " -7"]),
        "number-unit": ("2.5", ["2.5 km", "2.50", "$2.5", "2.5km", "2,5", "2.5%"]),
        "number-big": ("89706.00", ["89706", "89,706", "89706.001", "$89,706.00", "89 706"]),
        "number-sci": ("1e3", ["1000", "1,000", "1e3", "1E3", "10^3"]),
        "number-zero": ("0", ["0", "-0", "0.0", "zero", "none", "0%"]),
        "number-underscore": ("1.5", ["1_.5", "1._5", "1.5", "1.5_", "15e-1", "1.5e_0"]),
        "list-strings": ("apple, banana", ["Apple,banana", "apple; banana", "banana, apple",
                                           "apple, banana, cherry", "apple banana", "apple,  banana ",
                                           "Apple., banana", "APPLE,BANANA", "apple, bananas"]),
        "list-numbers": ("1, 2, 3", ["1,2,3.0", "1;2;3", "1, 2", "3, 2, 1", "$1, $2, $3", "1, 2, 3,",
                                     "1%, 2%, 3%", "1 2 3", "1, 2.0, 3.00"]),
        "list-letters": ("b, e", ["b,e", "B, E", "e, b", "b e", "(b), (e)", "b;e"]),
        "list-punct": ("St. Petersburg, Moscow", ["st. petersburg, moscow", "St Petersburg, Moscow",
                                                  "St. Petersburg; Moscow", "Moscow, St. Petersburg"]),
        "list-thousands": ("1,000; 2", ["1,000; 2", "1000; 2", "1,000, 2", "1, 000, 2", "1,0,2"]),
        "list-mixed": ("3, green, 4.5", ["3, Green, 4.50", "3.0, green, 4.5", "3, green., 4.5",
                                         "3, green, 4.6", "three, green, 4.5"]),
        "string": ("Paris", ["paris", "Paris.", "PARIS!", " Paris ", "Paris, France", "Pari s",
                             "P-a-r-i-s", "London", "Parisian"]),
        "string-punct": ("St. Petersburg", ["St Petersburg", "st.petersburg", "Saint Petersburg",
                                            "St. Petersburg!", "St.-Petersburg"]),
        "string-case": ("New York", ["newyork", "New-York", "NEW YORK", "New York City", "new_york"]),
        "string-name": ("Claude Shannon", ["claude shannon", "Shannon", "Claude E. Shannon",
                                           "CLAUDE  SHANNON", "Claude Shannon."]),
        "string-units": ("3 meters", ["3 meters", "3", "3meters", "3 m", "3 Meters.", "three meters"]),
        "string-money": ("$17", ["17", "$17", "17 dollars", "$ 17", "$18"]),
        "string-percent": ("17%", ["17", "17 %", "17 percent", "0.17"]),
        "comma-gold": ("1,000", ["1000", "1,000", "1, 000", "1;000", "1,0"]),
        "string-time": ("2:30 PM", ["2:30 p.m.", "230pm", "2:30PM", "14:30", "2.30 PM"]),
        "string-unicode": ("caf\u00e9", ["CAF\u00c9", "cafe", "Caf\u00e9."]),
        "string-digits": ("A4", ["a4", "A-4", "A 4", "A5"]),
        "string-quotes": ("\"Hello, World\"", ["Hello, World", "\"hello\", \"world\"", "\"Hello, World\""]),
        "string-hyphen": ("right-handed", ["right handed", "righthanded", "Right-Handed", "left-handed"]),
    }
    for case, (gold, preds) in hand.items():
        for p in preds:
            rows.add(case, gold, p)
    rng = random.Random(1515)
    for _ in range(30):
        v = rng.choice([rng.randint(0, 99999), round(rng.uniform(0, 1000), rng.randint(1, 3))])
        gold = str(v)
        forms = [f"{v:,}", f"${v}", f"{v}%", str(v + 1), f"{v} units", f"{v:.4f}"]
        for p in rng.sample(forms, 4):
            rows.add("random-number", gold, p)
    words = ["red", "blue", "green", "Mars", "Venus", "oak", "maple", "Bach", "Mozart", "tin"]
    for _ in range(12):
        a, b, c = rng.sample(words, 3)
        gold = f"{a}, {b}"
        for p in [f"{a.upper()},{b}", f"{b}, {a}", f"{a}; {b}", f"{a}, {c}", f"{a} , {b} ."]:
            rows.add("random-list", gold, p)
    out = []
    for r in rows.rows:
        r["expected"] = gaia_reference(r["gold"], r["prediction"])
        out.append(r)
    return out


def tabmwp_rows():
    rows = Rows("tabmwp")

    def add(case, gold, preds, unit="", choices=None):
        for p in preds:
            key = (gold, p)
            if key in rows.seen:
                continue
            rows.seen.add(key)
            rows.rows.append({"prediction": p, "gold": gold, "case": case, "unit": unit,
                              "choices": choices})

    add("thousands", "4,656", ["4656", "4,656", "$4,656", "The answer is 4,656.", "4656.0",
                               "4,665", "46,56", "4.656", "4 656", "There are 4,656 people."])
    add("money", "3.30", ["$3.30", "3.3", "3.30", "The answer is $3.30.", "3.03", "$3.31", "3.300",
                          "She will have $3.30 left.", "3.30 dollars", "$3.3"])
    add("money", "$12.00", ["12", "$12", "12.00", "$12.00", "12.5", "The total is $12.00."])
    add("fraction", "3/4", ["0.75", "3/4", r"$\frac{3}{4}$", r"\frac{3}{4}", "6/8", "0.7", "4/3",
                            "The answer is 3/4.", "3 / 4", "0.750"])
    add("fraction", "1/3", ["0.333", "0.3333", "0.33", "2/6", "1/3", r"\frac{1}{3}", "0.334"])
    add("fraction", "2/5", ["0.4", "4/10", "2/5", "5/2", "The probability is 2/5."])
    add("decimal", "56.4567", ["56.457", "56.4567", "56.46", "56.456"])
    add("unit", "7", ["7 cm", "7", "7cm", "8 cm", "The answer is 7 cm.", "7 centimeters"], unit="cm")
    add("unit", "12", ["12 minutes", "The answer is 12 minutes.", "12 min", "13 minutes", "12"],
        unit="minutes")
    add("unit", "45", ["45 kilograms", "45kg", "45", "It weighs 45 kilograms."], unit="kilograms")
    add("negative", "-3", ["-3", "\u22123", "3", "-3.0", "The change is -3.", "negative 3"])
    add("sentence", "84", ["The mean is 84.", "84", "the mean is 84", "Mean = 84", "x=84",
                           "The answer is 84.", "I think it is 84 or 85.", "It is 85, not 84.",
                           "84 is the mean of 80 and 88.", "The median was 84"])
    add("sentence", "6", ["There are 6 more.", "The difference is 6 students.",
                          "It will be 6 after 2 days.", "There were 6.", "6 is less than 8",
                          "The table shows that 6 people came."])
    add("time", "10:15 A.M.", ["10:15 A.M.", "The answer is 10:15 A.M.", "It leaves at 10:15 A.M.",
                               "10:45 A.M.", "10:15", "10:15 a.m."])
    add("sentence", "40", ["Total = $40, so 3 left", "3+37=40 in all", "The cost was $40.",
                           "They were 40 in all, 3 absent."])
    add("time", "2:30 P.M.", ["2:30 P.M.", "at 2:30 P.M.", "2:30 PM", "The answer is 2:30 P.M."])
    add("text", "Tuesday", ["Tuesday", "tuesday", "Tuesday.", "The answer is Tuesday.", "Monday"])
    add("text", "Mr. Smith", ["Mr. Smith", "mr. smith", "Mr Smith", "The answer is Mr. Smith."])
    two = ["shortage", "surplus"]
    add("choice", "surplus", ["surplus", "Surplus", "B", "(B)", "(b)", "b", "The answer is B",
                              "The answer is (B)", "the answer is B", "B. surplus", "(B) surplus",
                              "there is a surplus", "A", "shortage", "There is a shortage.",
                              "SURPLUS", "The answer is (B) surplus.", "by far a surplus"],
        choices=two)
    add("choice", "shortage", ["shortage", "Shortage", "A", "(a)", "There is a shortage.",
                               "surplus", "B", "a shortage"], choices=two)
    yn = ["yes", "no"]
    add("choice-yes-no", "yes", ["yes", "Yes", "A", "no", "Yes, it does.", "YES", "(A)",
                                 "No.", "The answer is A"], choices=yn)
    add("choice-yes-no", "no", ["no", "No", "B", "yes", "No, it does not.", "Not really"],
        choices=yn)
    days = ["Monday", "Tuesday", "Wednesday"]
    add("choice-three", "Wednesday", ["Wednesday", "C", "(C)", "wednesday", "on Wednesday",
                                      "Tuesday", "B", "It is Wednesday."], choices=days)
    eo = ["even", "odd"]
    add("choice-even-odd", "odd", ["odd", "Odd", "B", "even", "The number is odd.", "odd."],
        choices=eo)
    poss = ["Janice's", "Dave's"]
    add("choice-possessive", "Dave's", ["Dave's", "Dave", "B", "Dave's route", "Janice's"],
        choices=poss)
    sim = ["the red the red", "the blue"]
    add("choice-overlap-repeat", "the blue", ["the red blue", "the blue", "blue"], choices=sim)
    nums = ["5", "7", "9"]
    add("choice-numbers", "7", ["7", "B", "(B)", "9", "7.0", "The answer is B"], choices=nums)
    rng = random.Random(2022)
    for _ in range(25):
        v = rng.choice([rng.randint(1, 99999), round(rng.uniform(0, 500), 2)])
        gold = f"{v:,}" if isinstance(v, int) else f"{v:.2f}"
        forms = [str(v), f"${v}", f"The answer is {gold}.", f"{v + 1}", f"{v:,}",
                 f"It costs ${v}."]
        add("random-number", gold, rng.sample(forms, 4))
    for _ in range(12):
        n, d = rng.randint(1, 9), rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 10])
        gold = f"{n}/{d}"
        forms = [f"{n / d:.3f}", f"{n / d:.2f}", f"{2 * n}/{2 * d}", f"{d}/{n}",
                 f"$\\frac{{{n}}}{{{d}}}$"]
        add("random-fraction", gold, rng.sample(forms, 4))
    out = []
    for r in rows.rows:
        r["expected"] = tabmwp_reference(r["gold"], r["prediction"], r["unit"], r["choices"])
        out.append(r)
    return out


def gpqa_rows():
    rows = Rows("gpqa")
    templates = [
        ("answer-pattern", "Answer: {x}"),
        ("answer-lower-letter", "answer: {l}"),
        ("answer-no-space", "Answer:{x}"),
        ("answer-dollar", "Answer: ${x}$"),
        ("answer-paren", "Answer: ({x})"),
        ("answer-bold", "**Answer:** {x}"),
        ("answer-prose", "Let me think step by step.\nThe ratio is 3.\nAnswer: {x}"),
        ("paren", "({x})"),
        ("bare", "{x}"),
        ("bare-lower", "{l}"),
        ("answer-is", "The answer is {x}."),
        ("boxed", "\\boxed{{{x}}}"),
        ("answer-word", "Answer: {x}) because of symmetry"),
    ]
    for gold in ["A", "B", "C", "D"]:
        for i, (case, t) in enumerate(templates):
            for x in [gold, "ABCD"[("ABCD".index(gold) + 1 + i) % 4]]:
                rows.add(case, gold, t.format(x=x, l=x.lower()))
    for gold, p, case in [
        ("A", "Answer: A\nWait, on reflection.\nAnswer: D", "answer-twice"),
        ("D", "Answer: A\nWait, on reflection.\nAnswer: D", "answer-twice"),
        ("B", "Answer: Both options fail", "answer-word"),
        ("B", "Answer: B", "answer-pattern"),
        ("C", "Final Answer: C", "answer-pattern"),
        ("C", "ANSWER : C", "answer-pattern"),
        ("C", "Answer:\tC", "answer-pattern"),
        ("C", "Answer: E", "answer-out-of-range"),
        ("A", "no idea", "no-letter"),
        ("A", "", "empty"),
        ("B", "Between (A) and (B), I pick (B)", "paren"),
        ("D", "Answer: $\\boxed{D}$", "answer-dollar"),
        ("A", "answer: a", "answer-lower-letter"),
    ]:
        rows.add(case, gold, p)
    out = []
    for r in rows.rows:
        r["expected"] = gpqa_reference(r["gold"], r["prediction"])
        out.append(r)
    return out


def aime_rows():
    rows = Rows("aime")
    golds = ["7", "025", "80", "100", "204", "999", "0", "033", "512", "640", "9", "070"]
    for g in golds:
        n = int(g)
        forms = [
            ("plain", str(n)),
            ("leading-zeros", f"{n:03d}"),
            ("boxed", f"\\boxed{{{n}}}"),
            ("boxed-leading-zeros", f"\\boxed{{{n:03d}}}"),
            ("dollar", f"${n}$"),
            ("off-by-one", str(n + 1)),
            ("decimal", f"{n}.0"),
            ("sentence", f"So the answer is {n}."),
            ("boxed-wrong", f"\\boxed{{{n + 10}}}"),
            ("words", "seven hundred"),
        ]
        for case, p in forms:
            rows.add(case, g, p)
    for case, g, p in [
        ("two-boxes", "7", "\\boxed{5} no wait \\boxed{7}"),
        ("two-boxes", "5", "\\boxed{5} no wait \\boxed{7}"),
        ("negative", "7", "-7"),
        ("spaces", "7", "  7  "),
        ("plus-sign", "7", "+7"),
        ("boxed-text", "7", "\\boxed{\\text{7}}"),
        ("out-of-range", "999", "1999"),
        ("empty", "7", ""),
    ]:
        rows.add(case, g, p)
    out = []
    for r in rows.rows:
        r["expected"] = aime_reference(r["gold"], r["prediction"])
        out.append(r)
    return out


FIELDS = ["prediction", "gold", "expected", "case", "unit", "choices"]


def write(name, rows, out_dir):
    path = out_dir / f"{name}.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            ordered = {k: r[k] for k in FIELDS if k in r}
            f.write(json.dumps(ordered, ensure_ascii=False) + "\n")
    yes = sum(r["expected"] for r in rows)
    print(f"{name:<8} {len(rows):>4} rows  {yes:>4} equivalent  {len(rows) - yes:>4} not  -> {path}")


def main():
    ensure_venv()
    out_dir = OUT
    if "--out" in sys.argv:
        out_dir = Path(sys.argv[sys.argv.index("--out") + 1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, build in [("math", math_rows), ("gaia", gaia_rows), ("tabmwp", tabmwp_rows),
                        ("gpqa", gpqa_rows), ("aime", aime_rows)]:
        write(name, build(), out_dir)


if __name__ == "__main__":
    main()
