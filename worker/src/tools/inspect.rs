//! `inspect_file_as_text(path)`: runs inside the sandbox as plain Python (pdfminer, docx,
//! openpyxl, pptx, csv, json, zip), defined into the kernel by the prelude.

pub(crate) const NAME: &str = "inspect_file_as_text";

pub(crate) fn prompt_line() -> String {
    "- inspect_file_as_text(path: str) -> str: Read a file as text: PDF, DOCX, XLSX, PPTX, CSV, JSON, ZIP listings, HTML and plain text.".into()
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
        raise ValueError("audio transcription is not available in this sandbox")
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
