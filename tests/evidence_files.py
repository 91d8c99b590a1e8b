"""Files a seller might attach, harmless and hostile, made byte by byte so that each test
shows exactly what the file holds."""

import zlib

from django.core.files.uploadedfile import SimpleUploadedFile

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
JPEG_HEADED_HTML = b"\xff\xd8\xff\xe0<html><script>alert(document.cookie)</script></html>"

PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>"


def pdf(*bodies: bytes) -> bytes:
    """Return a PDF whose objects 1, 2, … are `bodies` (1 the catalogue), with a correct
    cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        xref,
    )
    return bytes(out)


def pdf_packed(*bodies: bytes, packed: set[int]) -> bytes:
    """Return a PDF 1.5 like `pdf`, but with the objects numbered in `packed` compressed in
    one object stream and listed by a cross-reference stream: no byte of them is visible."""
    stream_number, xref_number = len(bodies) + 1, len(bodies) + 2
    header, payload, index = b"", b"", {}
    for position, number in enumerate(sorted(packed)):
        header += b"%d %d " % (number, len(payload))
        payload += bodies[number - 1] + b"\n"
        index[number] = position
    data = zlib.compress(header + payload)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number, body in enumerate(bodies, start=1):
        if number not in packed:
            offsets[number] = len(out)
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    offsets[stream_number] = len(out)
    out += b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\n" % (
        stream_number,
        len(packed),
        len(header),
        len(data),
    )
    out += b"stream\n" + data + b"\nendstream\nendobj\n"
    offsets[xref_number] = len(out)
    rows = b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")
    for number in range(1, xref_number + 1):
        if number in packed:
            rows += b"\x02" + stream_number.to_bytes(4, "big") + index[number].to_bytes(2, "big")
        else:
            rows += b"\x01" + offsets[number].to_bytes(4, "big") + (0).to_bytes(2, "big")
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\n" % (
        xref_number,
        xref_number + 1,
        len(rows),
    )
    out += b"stream\n" + rows + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[xref_number]
    return bytes(out)


def catalog(extra: bytes = b"") -> bytes:
    return b"<< /Type /Catalog /Pages 2 0 R " + extra + b" >>"


PLAIN_PDF = pdf(catalog(), PAGES, PAGE)
# Opening on the first page, fitted to the window: an /OpenAction that runs nothing.
OPENS_ON_PAGE_ONE_PDF = pdf(catalog(b"/OpenAction [3 0 R /Fit]"), PAGES, PAGE)
OPEN_ACTION_JS_PDF = pdf(
    catalog(b"/OpenAction 4 0 R"), PAGES, PAGE, b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
)
# The same, with the names spelt in #-escapes, as PDF allows and viewers read.
OBFUSCATED_JS_PDF = pdf(
    catalog(b"/OpenAction << /S /JavaScr#69pt /J#53 (app.alert\\(1\\)) >>"), PAGES, PAGE
)
# The catalogue and its action compressed in an object stream.
PACKED_JS_PDF = pdf_packed(
    catalog(b"/OpenAction 4 0 R"),
    PAGES,
    PAGE,
    b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    packed={1, 4},
)
HOSTILE_PDFS = {
    "launch": pdf(
        catalog(),
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Annots [4 0 R] >>",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /Launch /F (calc.exe) >> >>",
    ),
    "embedded file": pdf(
        catalog(b"/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>"),
        PAGES,
        PAGE,
        b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
        b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream",
    ),
    "page action": pdf(
        catalog(),
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /AA << /O 4 0 R >> >>",
        b"<< /S /URI /URI (https://example.com/) >>",
    ),
    "rich media": pdf(
        catalog(),
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Annots [4 0 R] >>",
        b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 10 10] >>",
    ),
    "xfa form": pdf(catalog(b"/AcroForm << /Fields [] /XFA 4 0 R >>"), PAGES, PAGE, b"<< >>"),
}


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)
