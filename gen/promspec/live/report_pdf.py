"""The report's PDF: headless Chromium prints the HTML page (the same Chromium `promspec preview` drives)."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import tempfile

from ..preview.render import CHROMIUM_FLAGS, PreviewError, find_chromium

# Chromium stamps the print time as /CreationDate and /ModDate (D:YYYYMMDDHHmmSS and a zone); nothing else
# in its PDF varies between runs of the same page.
_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})")


def pin_dates(pdf: bytes, when: datetime.datetime) -> bytes:
    """The PDF with its creation and modification dates set to `when` (the report's end), so the same data
    and range give the same bytes. The replacement keeps every byte offset, so the xref table stays valid."""
    stamp = when.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S").encode()
    return _PDF_DATE.sub(lambda m: b"/" + m.group(1) + b" (D:" + stamp, pdf)


def print_pdf(page: str, timeout: float = 120.0, when: datetime.datetime | None = None) -> bytes:
    """PDF bytes of an HTML page, dated `when` when given; PreviewError when Chromium is missing or fails."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="promspec-report-") as tmp:
        page_path = os.path.join(tmp, "report.html")
        with open(page_path, "w", encoding="utf-8") as fh:
            fh.write(page)
        pdf = os.path.join(tmp, "report.pdf")
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={os.path.join(tmp, 'profile')}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            "file://" + page_path,
        ]
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PreviewError(f"Chromium did not print the PDF within {timeout:g} s") from None
        if proc.returncode != 0 or not os.path.exists(pdf) or not os.path.getsize(pdf):
            raise PreviewError(
                f"Chromium failed to print the PDF (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
            )
        with open(pdf, "rb") as fh:
            data = fh.read()
    return pin_dates(data, when) if when is not None else data
