//! `inspect_file_as_text(path)`: runs inside the sandbox as plain Python (pdfminer, docx,
//! openpyxl, pptx, csv, json, zip), defined into the kernel by the prelude; audio goes to the
//! worker's transcription model when one is configured, else is reported as unreadable.

pub(crate) const NAME: &str = "inspect_file_as_text";

/// The prompt line; audio is promised only when it can be transcribed.
pub(crate) fn prompt_line(audio: bool) -> String {
    let audio = if audio {
        ", audio (MP3, WAV, M4A, FLAC, OGG: a transcript)"
    } else {
        ""
    };
    format!(
        "- inspect_file_as_text(path: str) -> str: Read a file as text: PDF, DOCX, XLSX, PPTX, CSV, JSON, ZIP listings, HTML{audio} and plain text."
    )
}

pub(crate) const PYTHON: &str = r#"def inspect_file_as_text(path: str) -> str:
    """Read a file as text: PDF, DOCX, XLSX, PPTX, CSV, JSON, ZIP listings, HTML and plain text."""
    import os, json, csv, zipfile, re, html
    if not os.path.exists(path):
        raise FileNotFoundError(f"no file at {path}")
    ext = os.path.splitext(path)[1].lower()

    def _need(module):
        return ImportError(f"reading {ext} files needs the `{module}` package, which is not installed in the sandbox")

    if ext == ".pdf":
        try:
            from pdfminer.high_level import extract_text
        except ImportError:
            raise _need("pdfminer.six")
        return _HerdText(extract_text(path))
    if ext == ".docx":
        try:
            import docx
        except ImportError:
            raise _need("python-docx")
        d = docx.Document(path)
        parts = [p.text for p in d.paragraphs]
        for t in d.tables:
            for row in t.rows:
                parts.append(" | ".join(c.text for c in row.cells))
        return _HerdText("\n".join(parts))
    if ext in (".xlsx", ".xlsm"):
        try:
            import openpyxl
        except ImportError:
            raise _need("openpyxl")
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
        parts = []
        for ws in wb.worksheets:
            parts.append(f"=== Sheet: {ws.title} ===")
            for row in ws.iter_rows(values_only=True):
                parts.append("\t".join("" if v is None else str(v) for v in row))
        return _HerdText("\n".join(parts))
    if ext == ".pptx":
        try:
            import pptx
        except ImportError:
            raise _need("python-pptx")
        prs = pptx.Presentation(path)
        parts = []
        for i, slide in enumerate(prs.slides, 1):
            parts.append(f"=== Slide {i} ===")
            for shape in slide.shapes:
                if getattr(shape, "has_text_frame", False) and shape.text_frame.text:
                    parts.append(shape.text_frame.text)
        return _HerdText("\n".join(parts))
    if ext in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            rows = csv.reader(fh, delimiter="\t" if ext == ".tsv" else ",")
            return _HerdText("\n".join(",".join(r) for r in rows))
    if ext in (".json", ".jsonld"):
        with open(path, encoding="utf-8", errors="replace") as fh:
            return _HerdText(json.dumps(json.load(fh), indent=2, ensure_ascii=False))
    if ext == ".zip":
        with zipfile.ZipFile(path) as z:
            return _HerdText("\n".join(f"{i.filename}\t{i.file_size} bytes" for i in z.infolist()))
    if ext in (".mp3", ".wav", ".m4a", ".flac", ".ogg"):
        transcribe = globals().get("_herd_transcribe_audio")
        if transcribe is None:
            raise ValueError(f"{path} is an audio file, and audio cannot be transcribed in this run (no speech-to-text model is configured); find the information another way")
        return _HerdText(transcribe(path))
    if ext in (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"):
        raise ValueError("this is an image; use visual_qa(path, question) if it is available")
    with open(path, "rb") as fh:
        raw = fh.read()
    if b"\x00" in raw[:4096]:
        raise ValueError(f"{path} looks like a binary file ({len(raw)} bytes) that cannot be shown as text")
    text = raw.decode("utf-8", errors="replace")
    if ext in (".html", ".htm", ".xml"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
        text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
        text = re.sub(r"[ \t]+", " ", text)
    return _HerdText(text)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_promises_audio_only_when_it_can_be_transcribed() {
        assert!(prompt_line(true).contains("audio (MP3"));
        assert!(!prompt_line(false).to_lowercase().contains("audio"));
    }

    /// Runs the helper in a real python3 (when there is one) on an `.mp3`: without the
    /// transcription helper it says audio cannot be transcribed; with it, it returns the
    /// transcript.
    #[test]
    fn audio_goes_to_the_transcription_helper_or_is_reported_unreadable() {
        if std::process::Command::new("python3")
            .arg("--version")
            .output()
            .map_or(true, |o| !o.status.success())
        {
            eprintln!("python3 not found; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mp3 = dir.path().join("clip.mp3");
        std::fs::write(&mp3, b"ID3 not really audio").unwrap();
        let run = |extra: &str| {
            let script = format!(
                "_HerdText = str\n{PYTHON}\n{extra}\ntry:\n    print('OK:' + inspect_file_as_text({:?}))\nexcept ValueError as e:\n    print('ERR:' + str(e))\n",
                mp3.display().to_string()
            );
            let out = std::process::Command::new("python3")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr)
        };
        let without = run("");
        assert!(
            without.starts_with("ERR:") && without.contains("cannot be transcribed"),
            "{without}"
        );
        let with =
            run("def _herd_transcribe_audio(path):\n    return 'transcript of ' + path[-8:]\n");
        assert_eq!(with.trim(), "OK:transcript of clip.mp3");
    }
}
