"""The interface in Simplified Chinese: chosen by the browser or the menu,
and a complete, compiled catalogue."""

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from rendering.messages import error_text

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LOCALE_DIR / "django.po"
MO = LOCALE_DIR / "django.mo"

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def page(client, url, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- choosing the language ------------------------------------------------


def test_login_page_follows_the_browser_language(db):
    html = page(Client(), reverse("login"), **ZH)
    assert '<html lang="zh-hans"' in html
    assert "<h1>登录 HeyGem</h1>" in html
    assert '<button type="submit" class="primary">登录</button>' in html
    assert "Log in to HeyGem" not in html


def test_login_page_stays_english_by_default(db):
    html = page(Client(), reverse("login"))
    assert "<h1>Log in to HeyGem</h1>" in html
    assert "登录" not in html


def test_language_cookie_wins_over_the_browser(db):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = page(client, reverse("login"), HTTP_ACCEPT_LANGUAGE="en")
    assert "<h1>登录 HeyGem</h1>" in html


def test_menu_switches_language(alice_client, project):
    response = alice_client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("projects:list")})
    assert response.status_code == 302 and response.url == reverse("projects:list")
    assert alice_client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    html = page(alice_client, reverse("projects:list"))
    assert "新建项目" in html
    alice_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "New project" in page(alice_client, reverse("projects:list"))


def test_failed_login_is_explained_in_chinese(alice):
    response = Client().post(reverse("login"), {"username": "alice", "password": "wrong"}, **ZH)
    assert "用户名或密码不正确，请重试。" in response.content.decode()


# --- pages of a logged-in user --------------------------------------------


def test_project_list_in_chinese(alice_client, project):
    html = page(alice_client, reverse("projects:list"), **ZH)
    assert "Physics 101" in html
    assert "新建项目" in html and "已归档" in html
    assert "0 个音频" in html and "0 个视频或图片" in html and "0 个模板" in html
    assert "退出登录" in html and "历史记录" in html
    assert "New project" not in html


def test_project_page_in_chinese(alice_client, project):
    html = page(alice_client, project.get_absolute_url(), **ZH)
    assert "添加文件" in html
    assert "还没有音频。请上传要让主讲人“说”的配音录音。" in html
    assert "音频：wav、mp3、m4a、ogg、opus、flac" in html
    assert "Add files" not in html


def test_new_batch_page_in_chinese(alice_client, project):
    html = page(alice_client, reverse("rendering:batch_create", args=[project.pk]), **ZH)
    assert "<h1>新建批次</h1>" in html
    assert "1. 配音录音" in html and "2. 主讲人" in html and "3. 设置" in html
    assert "开始渲染" in html
    # strings the page's script fills in keep their placeholders
    assert "这个批次将生成 %(items)s 个视频，总时长约 %(seconds)s 秒。" in html


def test_dashboard_in_chinese(alice_client, project):
    html = page(alice_client, reverse("home"), **ZH)
    assert "最近的项目" in html
    assert "剩余 %(time)s" in html


# --- messages from the server ---------------------------------------------


def test_upload_refusal_in_chinese(alice_client, project):
    empty = SimpleUploadedFile("zero.wav", b"")
    response = alice_client.post(
        reverse("projects:upload", args=[project.pk]), {"files": [empty]}, HTTP_ACCEPT="application/json", **ZH
    )
    outcome = response.json()["files"][0]
    assert not outcome["ok"]
    assert outcome["error"] == "zero.wav 是空文件（0 字节）。"


def test_upload_refusal_shown_on_the_page_in_chinese(alice_client, project):
    empty = SimpleUploadedFile("zero.wav", b"")
    response = alice_client.post(reverse("projects:upload", args=[project.pk]), {"files": [empty]}, follow=True, **ZH)
    assert "zero.wav 是空文件（0 字节）。" in response.content.decode()


def test_unsupported_extension_in_chinese(alice_client, project):
    notes = SimpleUploadedFile("notes.txt", b"hello")
    response = alice_client.post(
        reverse("projects:upload", args=[project.pk]), {"files": [notes]}, HTTP_ACCEPT="application/json", **ZH
    )
    error = response.json()["files"][0]["error"]
    assert error.startswith("notes.txt：不支持以“.txt”结尾的文件。"), error


def test_render_errors_in_chinese():
    with translation.override("zh-hans"):
        assert error_text("no_face_found") == "这个视频中没有找到人脸。请使用能清楚看到主讲人面部的视频。"
        assert error_text("model_not_installed").endswith("manage.py install_models --from FILE")
        assert "尚未安装" in error_text("model_not_installed")
        assert error_text("no-such-code") == "渲染程序内部出错了。请重试此项；如果再次失败，请告诉管理员（详细信息在服务器日志中）。"
    with translation.override("en"):
        assert error_text("no_face_found").startswith("No face was found")


def test_plurals_and_placeholders():
    with translation.override("zh-hans"):
        assert translation.ngettext("%(count)d warning", "%(count)d warnings", 3) % {"count": 3} == "3 条警告"
        assert translation.gettext("Project “%(name)s” created.") % {"name": "物理"} == "已创建项目“物理”。"


# --- the catalogue itself -------------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: flags, msgid, msgid_plural and msgstr(s)."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry: dict = {"flags": set(), "obsolete": False}
        key = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#,"):
                entry["flags"] |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry[key] += ast.literal_eval(line)
            else:
                key, value = line.split(" ", 1)
                entry[key] = ast.literal_eval(value)
        entries.append(entry)
    return entries


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%%|%\(\w+\)[sd]", text))


def test_catalogue_is_complete():
    entries = parse_po(PO)
    header, messages = entries[0], entries[1:]
    assert header["msgid"] == ""
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"]
    assert "#, fuzzy" not in PO.read_text(encoding="utf-8")
    assert len(messages) > 300
    untranslated = []
    for entry in messages:
        assert "fuzzy" not in entry["flags"], entry["msgid"]
        assert not entry["obsolete"], entry.get("msgid")
        if "msgid_plural" in entry:
            translated = entry.get("msgstr[0]", "")
            assert "msgstr[1]" not in entry, entry["msgid"]
        else:
            translated = entry.get("msgstr", "")
        if not translated.strip():
            untranslated.append(entry["msgid"])
            continue
        assert placeholders(translated) == placeholders(entry["msgid"]), entry["msgid"]
    assert not untranslated, untranslated


def test_code_and_markup_are_kept():
    catalogue = {e["msgid"]: e.get("msgstr") or e.get("msgstr[0]") for e in parse_po(PO)[1:]}
    assert (
        "<code>manage.py create_member NAME</code>"
        in catalogue[
            "Add people in the admin or with <code>manage.py create_member NAME</code>. There is no public sign-up."
        ]
    )
    assert "Wav2Lip" in catalogue["The installed lip-sync model is not a valid Wav2Lip checkpoint."]


def test_compiled_catalogue_matches_the_po(tmp_path):
    assert MO.exists(), "run: make messages"
    with MO.open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)
    assert catalogue.gettext("Log in to HeyGem") == "登录 HeyGem"
    assert catalogue.gettext("New batch") == "新建批次"
    assert catalogue.ngettext("%(counter)s template", "%(counter)s templates", 5) == "%(counter)s 个模板"
    # every translation in the .po is in the .mo, unchanged
    for entry in parse_po(PO)[1:]:
        if "msgid_plural" in entry:
            assert catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 2) == entry["msgstr[0]"], entry["msgid"]
        elif "msgctxt" in entry:
            assert catalogue.pgettext(entry["msgctxt"], entry["msgid"]) == entry["msgstr"], entry["msgid"]
        else:
            assert catalogue.gettext(entry["msgid"]) == entry["msgstr"], entry["msgid"]
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        return
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(PO)], check=True, capture_output=True)
    with fresh.open("rb") as fh:
        expected = gettext.GNUTranslations(fh)
    assert catalogue._catalog == expected._catalog, "django.mo is out of date: run make messages"
