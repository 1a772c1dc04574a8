"""The S3 storage backend (HEYGEM_STORAGE=s3): django-storages' S3Storage,
except that a file already on disk (an upload's temporary file, a render's
output) is uploaded by its path. boto3 then reads each part from the file as
it sends it, instead of copying up to a few parts into memory first
(``upload_fileobj``): the web process stays flat however big the upload."""

from __future__ import annotations

import os

from storages.backends.s3 import S3Storage as BaseS3Storage
from storages.utils import clean_name


def _disk_path(content) -> str | None:
    """The path of the regular file behind ``content``, if it has one."""
    if hasattr(content, "temporary_file_path"):
        return content.temporary_file_path()
    for candidate in (getattr(content, "file", None), content):
        name = getattr(candidate, "name", None)
        if isinstance(name, str) and os.path.isabs(name) and os.path.isfile(name):
            return name
    return None


class S3Storage(BaseS3Storage):
    def _save(self, name, content):
        path = _disk_path(content)
        if path is None or self.gzip:
            return super()._save(name, content)
        cleaned_name = clean_name(name)
        key = self._normalize_name(cleaned_name)
        params = self._get_write_parameters(key, content)
        self.bucket.Object(key).upload_file(path, ExtraArgs=params, Config=self.transfer_config)
        return cleaned_name
