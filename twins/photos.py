"""Photo intake: accept only real images, re-encode them, drop metadata (GPS in EXIF is private)."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
MAX_SIDE = 1600


def clean_photo(upload: UploadedFile) -> ContentFile:
    """Validate an uploaded photo and return a re-encoded JPEG without metadata.

    Raises ValidationError with a message a person can act on.
    """
    if upload.size is not None and upload.size > settings.PHOTO_MAX_BYTES:
        limit = settings.PHOTO_MAX_BYTES // (1024 * 1024)
        raise ValidationError(f"The photo is too large: the limit is {limit} MB.", code="photo_too_large")
    # Decompression bombs: a tiny file that claims billions of pixels.
    Image.MAX_IMAGE_PIXELS = settings.PHOTO_MAX_PIXELS
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            image_format = probe.format
            # Pillow only raises above twice MAX_IMAGE_PIXELS (and merely warns below): check ourselves.
            if probe.width * probe.height > settings.PHOTO_MAX_PIXELS:
                raise ValidationError(
                    "The photo has too many pixels: use one under 40 megapixels.", code="photo_too_large"
                )
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=85, optimize=True)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ValidationError(
            "That file is not a photo we can read. Use a JPEG, PNG, WebP or GIF image.", code="photo_invalid"
        ) from exc
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError("Use a JPEG, PNG, WebP or GIF image.", code="photo_format")
    return ContentFile(out.getvalue(), name="photo.jpg")
