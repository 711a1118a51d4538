//! A small LaTeX math-expression parser and complex-valued evaluator, used for the MATH
//! "symbolic" check: two answers are equivalent when they evaluate to the same number (or,
//! with up to three free variables, agree at several fixed sample points).
//!
//! Supported: integers, decimals, `+ - * /`, `\cdot`, `\times`, implicit multiplication,
//! `^` powers, `!`, parentheses/brackets/braces, `|x|`, `\frac`, `\sqrt[n]{}`, `\binom`, `\pi`,
//! `i`, trig/log/exp functions, single-letter and Greek variables (with subscripts).

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct C {
    pub re: f64,
    pub im: f64,
}

impl C {
    pub const fn real(re: f64) -> C {
        C { re, im: 0.0 }
    }
    fn is_real(self) -> bool {
        self.im.abs() <= 1e-12 * self.re.abs().max(1.0)
    }
    fn add(self, o: C) -> C {
        C::new(self.re + o.re, self.im + o.im)
    }
    fn sub(self, o: C) -> C {
        C::new(self.re - o.re, self.im - o.im)
    }
    fn mul(self, o: C) -> C {
        C::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    fn div(self, o: C) -> C {
        let d = o.re * o.re + o.im * o.im;
        if d == 0.0 {
            return C::new(f64::NAN, f64::NAN);
        }
        C::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
    const fn new(re: f64, im: f64) -> C {
        C { re, im }
    }
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    fn ln(self) -> C {
        C::new(self.abs().ln(), self.im.atan2(self.re))
    }
    fn exp(self) -> C {
        let m = self.re.exp();
        C::new(m * self.im.cos(), m * self.im.sin())
    }
    fn pow(self, e: C) -> C {
        if self.is_real() && e.is_real() {
            let (b, x) = (self.re, e.re);
            if x.fract() == 0.0 && x.abs() < 1e6 {
                return C::real(b.powi(x as i32));
            }
            if b >= 0.0 {
                return C::real(b.powf(x));
            }
            // Odd roots of negatives stay real: (-8)^(1/3) = -2.
            let inv = 1.0 / x;
            if (inv - inv.round()).abs() < 1e-9 && (inv.round() as i64) % 2 != 0 {
                return C::real(-(-b).powf(x));
            }
        }
        if self.re == 0.0 && self.im == 0.0 {
            return C::real(0.0);
        }
        e.mul(self.ln()).exp()
    }
    fn sqrt(self) -> C {
        if self.is_real() && self.re >= 0.0 {
            return C::real(self.re.sqrt());
        }
        self.pow(C::real(0.5))
    }
    fn real_fn(self, f: fn(f64) -> f64) -> C {
        if self.is_real() {
            C::real(f(self.re))
        } else {
            C::new(f64::NAN, f64::NAN)
        }
    }
    pub fn finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
}

/// Parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    I,
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    Fact(Box<Expr>),
    Func(&'static str, Box<Expr>),
    Binom(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Letter(char),
    Cmd(String),
    Sym(char),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let st = i;
            while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.') {
                i += 1;
            }
            let t: String = cs[st..i].iter().collect();
            out.push(Tok::Num(t.parse().ok()?));
        } else if c == '\\' {
            let st = i + 1;
            i += 1;
            while i < cs.len() && cs[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i == st {
                // `\{`, `\}`, `\,` …
                let n = *cs.get(i)?;
                i += 1;
                match n {
                    '{' => out.push(Tok::Sym('(')),
                    '}' => out.push(Tok::Sym(')')),
                    ',' | ';' | ':' | ' ' | '!' => {}
                    _ => return None,
                }
            } else {
                let name: String = cs[st..i].iter().collect();
                out.extend(split_command(name));
            }
        } else if c.is_ascii_alphabetic() {
            out.push(Tok::Letter(c));
            i += 1;
        } else if "+-*/^()[]{}|!_".contains(c) {
            out.push(Tok::Sym(c));
            i += 1;
        } else if c == '\u{2212}' {
            out.push(Tok::Sym('-'));
            i += 1;
        } else if c == 'π' {
            out.push(Tok::Cmd("pi".into()));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// Commands the parser knows, for [`split_command`].
const KNOWN: &[&str] = &[
    "frac", "dfrac", "tfrac", "sqrt", "binom", "dbinom", "tbinom", "pi", "cdot", "times", "div",
    "infty",
];

/// `\sinx` → `\sin` `x`: the Hendrycks normalisation drops spaces, so `\sin x` or `\pi r`
/// reach the tokenizer as one unknown command; split off the longest known command.
fn split_command(name: String) -> Vec<Tok> {
    let known = |c: &str| KNOWN.contains(&c) || FUNCS.contains(&c) || GREEK.contains(&c);
    if known(&name) {
        return vec![Tok::Cmd(name)];
    }
    let best = (1..name.len()).rev().find(|&k| known(&name[..k]));
    match best {
        Some(k) => {
            let mut out = vec![Tok::Cmd(name[..k].to_string())];
            out.extend(name[k..].chars().map(Tok::Letter));
            out
        }
        None => vec![Tok::Cmd(name)],
    }
}

const FUNCS: &[&str] = &[
    "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp",
];
const GREEK: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "theta", "phi", "varphi", "lambda", "mu", "omega", "sigma",
    "rho", "tau",
];

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Expr> {
        let mut e = self.term()?;
        loop {
            if self.eat('+') {
                e = Expr::Add(Box::new(e), Box::new(self.term()?));
            } else if self.eat('-') {
                e = Expr::Sub(Box::new(e), Box::new(self.term()?));
            } else {
                return Some(e);
            }
        }
    }

    fn starts_atom(&self) -> bool {
        match self.peek() {
            Some(Tok::Num(_)) | Some(Tok::Letter(_)) => true,
            Some(Tok::Sym(c)) => matches!(c, '(' | '[' | '{'),
            Some(Tok::Cmd(c)) => !matches!(c.as_str(), "cdot" | "times" | "div" | "infty"),
            None => false,
        }
    }

    fn term(&mut self) -> Option<Expr> {
        let mut e = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Sym('*')) => Some('*'),
                Some(Tok::Sym('/')) => Some('/'),
                Some(Tok::Cmd(c)) if c == "cdot" || c == "times" => Some('*'),
                Some(Tok::Cmd(c)) if c == "div" => Some('/'),
                _ => None,
            };
            if let Some(op) = op {
                self.i += 1;
                let r = self.unary()?;
                e = if op == '*' {
                    Expr::Mul(Box::new(e), Box::new(r))
                } else {
                    Expr::Div(Box::new(e), Box::new(r))
                };
            } else if self.starts_atom() {
                let r = self.power()?;
                e = Expr::Mul(Box::new(e), Box::new(r));
            } else {
                return Some(e);
            }
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        if self.eat('-') {
            return Some(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat('+') {
            return self.unary();
        }
        self.power()
    }

    fn power(&mut self) -> Option<Expr> {
        let mut base = self.postfix()?;
        if self.eat('^') {
            let ex = self.exponent()?;
            base = Expr::Pow(Box::new(base), Box::new(ex));
            while self.eat('!') {
                base = Expr::Fact(Box::new(base));
            }
        }
        Some(base)
    }

    /// `^{…}`, `^2` (one digit), `^x`, `^\pi`, `^-1`.
    fn exponent(&mut self) -> Option<Expr> {
        match self.peek()? {
            Tok::Sym('{') => self.group(),
            Tok::Num(n) => {
                let n = *n;
                self.i += 1;
                // LaTeX binds one character: x^23 is x^2·3; handle by splitting digits.
                let s = format!("{n}");
                if s.len() > 1 && !s.contains('.') {
                    let first = s[..1].parse().ok()?;
                    let rest: f64 = s[1..].parse().ok()?;
                    self.t.insert(self.i, Tok::Num(rest));
                    return Some(Expr::Num(first));
                }
                Some(Expr::Num(n))
            }
            Tok::Sym('-') => {
                self.i += 1;
                Some(Expr::Neg(Box::new(self.exponent()?)))
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut a = self.atom()?;
        while self.eat('!') {
            a = Expr::Fact(Box::new(a));
        }
        Some(a)
    }

    /// A `{…}` group or a single token argument (for `\frac12`).
    fn arg(&mut self) -> Option<Expr> {
        match self.peek()? {
            Tok::Sym('{') => self.group(),
            Tok::Num(n) => {
                let n = *n;
                self.i += 1;
                let s = format!("{n}");
                if s.len() > 1 && !s.contains('.') {
                    let first = s[..1].parse().ok()?;
                    let rest: f64 = s[1..].parse().ok()?;
                    self.t.insert(self.i, Tok::Num(rest));
                    return Some(Expr::Num(first));
                }
                Some(Expr::Num(n))
            }
            _ => self.atom(),
        }
    }

    fn group(&mut self) -> Option<Expr> {
        let (open, close) = match self.next()? {
            Tok::Sym('(') => ('(', ')'),
            Tok::Sym('[') => ('[', ']'),
            Tok::Sym('{') => ('{', '}'),
            _ => return None,
        };
        let _ = open;
        let e = self.expr()?;
        if !self.eat(close) {
            return None;
        }
        Some(e)
    }

    fn atom(&mut self) -> Option<Expr> {
        match self.peek()?.clone() {
            Tok::Num(n) => {
                self.i += 1;
                Some(Expr::Num(n))
            }
            Tok::Letter(c) => {
                self.i += 1;
                if c == 'i' {
                    return Some(Expr::I);
                }
                let mut name = c.to_string();
                if self.eat('_') {
                    name.push('_');
                    match self.next()? {
                        Tok::Num(n) => name.push_str(&format!("{n}")),
                        Tok::Letter(l) => name.push(l),
                        Tok::Sym('{') => {
                            while let Some(t) = self.next() {
                                match t {
                                    Tok::Sym('}') => break,
                                    Tok::Num(n) => name.push_str(&format!("{n}")),
                                    Tok::Letter(l) => name.push(l),
                                    _ => return None,
                                }
                            }
                        }
                        _ => return None,
                    }
                }
                Some(Expr::Var(name))
            }
            Tok::Sym('(') | Tok::Sym('[') | Tok::Sym('{') => self.group(),
            Tok::Sym('|') => {
                self.i += 1;
                let e = self.expr()?;
                if !self.eat('|') {
                    return None;
                }
                Some(Expr::Func("abs", Box::new(e)))
            }
            Tok::Cmd(cmd) => {
                self.i += 1;
                match cmd.as_str() {
                    "frac" => {
                        let n = self.arg()?;
                        let d = self.arg()?;
                        Some(Expr::Div(Box::new(n), Box::new(d)))
                    }
                    "sqrt" => {
                        let mut index = None;
                        if self.peek() == Some(&Tok::Sym('[')) {
                            index = Some(self.group()?);
                        }
                        let x = self.arg()?;
                        Some(match index {
                            Some(n) => Expr::Pow(
                                Box::new(x),
                                Box::new(Expr::Div(Box::new(Expr::Num(1.0)), Box::new(n))),
                            ),
                            None => Expr::Func("sqrt", Box::new(x)),
                        })
                    }
                    "binom" | "dbinom" | "tbinom" => {
                        let n = self.arg()?;
                        let k = self.arg()?;
                        Some(Expr::Binom(Box::new(n), Box::new(k)))
                    }
                    "pi" => Some(Expr::Num(std::f64::consts::PI)),
                    f if FUNCS.contains(&f) => {
                        let name: &'static str = FUNCS.iter().find(|x| **x == f).copied()?;
                        // \log_b x
                        let mut base = None;
                        if self.eat('_') {
                            base = Some(self.arg()?);
                        }
                        // \sin^2 x
                        let mut pw = None;
                        if self.eat('^') {
                            pw = Some(self.exponent()?);
                        }
                        let x = if matches!(self.peek(), Some(Tok::Sym('(')) | Some(Tok::Sym('{')))
                        {
                            self.group()?
                        } else {
                            self.power()?
                        };
                        let mut e = Expr::Func(name, Box::new(x));
                        if let Some(b) = base {
                            e = Expr::Div(
                                Box::new(Expr::Func("ln", Box::new(self_arg(e)?))),
                                Box::new(Expr::Func("ln", Box::new(b))),
                            );
                        }
                        if let Some(p) = pw {
                            e = Expr::Pow(Box::new(e), Box::new(p));
                        }
                        Some(e)
                    }
                    g if GREEK.contains(&g) => Some(Expr::Var(g.to_string())),
                    _ => None,
                }
            }
            Tok::Sym(_) => None,
        }
    }
}

/// The argument of a `Func` (used to turn `\log_b x` into `ln x / ln b`).
fn self_arg(e: Expr) -> Option<Expr> {
    match e {
        Expr::Func(_, x) => Some(*x),
        _ => None,
    }
}

/// Parses a whole LaTeX expression; `None` if any part is not understood.
pub fn parse(s: &str) -> Option<Expr> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return None;
    }
    let mut p = P { t: toks, i: 0 };
    let e = p.expr()?;
    (p.i == p.t.len()).then_some(e)
}

pub fn variables(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::Var(v) => {
            out.insert(v.clone());
        }
        Expr::Num(_) | Expr::I => {}
        Expr::Neg(a) | Expr::Fact(a) | Expr::Func(_, a) => variables(a, out),
        Expr::Add(a, b)
        | Expr::Sub(a, b)
        | Expr::Mul(a, b)
        | Expr::Div(a, b)
        | Expr::Pow(a, b)
        | Expr::Binom(a, b) => {
            variables(a, out);
            variables(b, out);
        }
    }
}

fn factorial(x: C) -> C {
    if !x.is_real() || x.re < 0.0 || x.re.fract() != 0.0 || x.re > 170.0 {
        return C::new(f64::NAN, f64::NAN);
    }
    C::real((1..=x.re as u64).fold(1.0, |a, k| a * k as f64))
}

fn binom(n: C, k: C) -> C {
    if !n.is_real() || !k.is_real() || k.re.fract() != 0.0 || k.re < 0.0 || k.re > 1000.0 {
        return C::new(f64::NAN, f64::NAN);
    }
    let mut r = 1.0;
    for j in 0..k.re as u64 {
        r = r * (n.re - j as f64) / (j as f64 + 1.0);
    }
    C::real(r)
}

/// Evaluates with the given variable values.
pub fn eval(e: &Expr, vars: &dyn Fn(&str) -> Option<C>) -> Option<C> {
    Some(match e {
        Expr::Num(n) => C::real(*n),
        Expr::I => C::new(0.0, 1.0),
        Expr::Var(v) => vars(v)?,
        Expr::Neg(a) => C::real(0.0).sub(eval(a, vars)?),
        Expr::Add(a, b) => eval(a, vars)?.add(eval(b, vars)?),
        Expr::Sub(a, b) => eval(a, vars)?.sub(eval(b, vars)?),
        Expr::Mul(a, b) => eval(a, vars)?.mul(eval(b, vars)?),
        Expr::Div(a, b) => eval(a, vars)?.div(eval(b, vars)?),
        Expr::Pow(a, b) => eval(a, vars)?.pow(eval(b, vars)?),
        Expr::Fact(a) => factorial(eval(a, vars)?),
        Expr::Binom(a, b) => binom(eval(a, vars)?, eval(b, vars)?),
        Expr::Func(f, a) => {
            let x = eval(a, vars)?;
            match *f {
                "sqrt" => x.sqrt(),
                "abs" => C::real(x.abs()),
                "ln" | "log" => x.ln(),
                "exp" => x.exp(),
                "sin" => x.real_fn(f64::sin),
                "cos" => x.real_fn(f64::cos),
                "tan" => x.real_fn(f64::tan),
                "sec" => x.real_fn(|v| 1.0 / v.cos()),
                "csc" => x.real_fn(|v| 1.0 / v.sin()),
                "cot" => x.real_fn(|v| 1.0 / v.tan()),
                "arcsin" => x.real_fn(f64::asin),
                "arccos" => x.real_fn(f64::acos),
                "arctan" => x.real_fn(f64::atan),
                "sinh" => x.real_fn(f64::sinh),
                "cosh" => x.real_fn(f64::cosh),
                "tanh" => x.real_fn(f64::tanh),
                _ => return None,
            }
        }
    })
}

/// Relative/absolute closeness used for numeric equivalence.
pub fn close(a: C, b: C) -> bool {
    let d = a.sub(b).abs();
    d <= 1e-12 + 1e-9 * a.abs().max(b.abs())
}

/// Sample values for free variables (irrational-ish, so accidental agreement is unlikely).
const SAMPLES: [f64; 7] = [
    0.613_4, 1.371_9, -0.746_3, 2.218_7, 0.397_1, 1.683_2, -1.271_8,
];

/// `Some(true/false)` when both sides could be evaluated and compared; `None` otherwise.
pub fn equivalent(a: &Expr, b: &Expr) -> Option<bool> {
    let mut vs = BTreeSet::new();
    variables(a, &mut vs);
    variables(b, &mut vs);
    if vs.len() > 3 {
        return None;
    }
    let names: Vec<String> = vs.into_iter().collect();
    let points = if names.is_empty() { 1 } else { 4 };
    let mut compared = 0;
    for p in 0..points {
        let lookup = |v: &str| {
            names
                .iter()
                .position(|n| n == v)
                .map(|k| C::real(SAMPLES[(k * 2 + p) % SAMPLES.len()]))
        };
        let (x, y) = (eval(a, &lookup)?, eval(b, &lookup)?);
        if !x.finite() || !y.finite() {
            continue;
        }
        compared += 1;
        if !close(x, y) {
            return Some(false);
        }
    }
    (compared > 0).then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(s: &str) -> f64 {
        let e = parse(s).unwrap_or_else(|| panic!("parse {s}"));
        let c = eval(&e, &|_| None).unwrap_or_else(|| panic!("eval {s}"));
        c.re
    }

    #[test]
    fn evaluates_latex() {
        assert!((val("\\frac{1}{2}") - 0.5).abs() < 1e-12);
        assert!((val("\\frac12") - 0.5).abs() < 1e-12);
        assert!((val("2\\sqrt{3}") - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        assert!((val("\\sqrt[3]{8}") - 2.0).abs() < 1e-12);
        assert!((val("3\\pi") - 3.0 * std::f64::consts::PI).abs() < 1e-12);
        assert!((val("2^{10}") - 1024.0).abs() < 1e-9);
        assert!((val("5!") - 120.0).abs() < 1e-9);
        assert!((val("\\binom{5}{2}") - 10.0).abs() < 1e-9);
        assert!((val("-\\frac{3}{4}") + 0.75).abs() < 1e-12);
        assert!((val("\\log_2 8") - 3.0).abs() < 1e-9);
        assert!((val("(1+2)(3+4)") - 21.0).abs() < 1e-9);
        assert!((val("\\frac{\\sqrt{2}}{2}") - 2f64.sqrt() / 2.0).abs() < 1e-12);
        assert!((val("2\\cdot3") - 6.0).abs() < 1e-12);
    }

    #[test]
    fn symbolic_equivalence_by_sampling() {
        let p = |s: &str| parse(s).unwrap_or_else(|| panic!("parse {s}"));
        assert_eq!(equivalent(&p("(x+1)^2"), &p("x^2+2x+1")), Some(true));
        assert_eq!(equivalent(&p("(x+1)^2"), &p("x^2+1")), Some(false));
        assert_eq!(equivalent(&p("1+2i"), &p("2i+1")), Some(true));
        assert_eq!(equivalent(&p("i^2"), &p("-1")), Some(true));
        assert!(parse("\\infty").is_none());
        assert_eq!(equivalent(&p("\\sinx"), &p("\\sin(x)")), Some(true));
        assert_eq!(equivalent(&p("\\pir^2"), &p("\\pi r^2")), Some(true));
        assert!(parse("x=").is_none());
    }
}
