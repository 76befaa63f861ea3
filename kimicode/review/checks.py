"""Checks that need no model and run before any request, every time.

- A staged secret blocks the commit and nothing is sent: a file that is a secret by its name
  (.env, id_rsa, *.pem...), or a line the change adds that detect-secrets flags. Only added
  lines count: a secret already in the repository is not this commit's doing (it is redacted
  if its line is sent as context). ``# pragma: allowlist secret`` on a line marks a false positive.
- Binary files, submodules, lock files, generated/minified and huge files are listed with the
  reason and left out of the review; they are still scanned for secrets when they are text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kimicode.repo.files import GENERATED_SUFFIXES, LOCK_FILES, content_reason, secret_in_name
from kimicode.review.changes import Change, ChangeSet
from kimicode.review.patch import added_lines
from kimicode.secrets import redact, secret_file_kind


@dataclass(frozen=True)
class SecretHit:
    path: str
    line: int | None  # None: the whole file is a secret by its name
    kind: str  # never the secret itself
    commit: str | None = None  # set when a commit of the range added it and a later one removed it

    @property
    def where(self) -> str:
        place = f"{self.path}:{self.line}" if self.line else self.path
        return f"{place} (in commit {self.commit[:10]}, removed later)" if self.commit else place


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


@dataclass
class LocalReport:
    secrets: list[SecretHit] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    reviewable: list[Change] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # path -> new text, for reviewable files


def scan_added(change: Change) -> list[SecretHit]:
    """Secrets on the lines this change adds, at their line numbers in the new file."""
    added = added_lines(change.hunks)
    if not added:
        return []
    # Other lines are left blank so detect-secrets reports the real line numbers.
    text = "\n".join(added.get(number, "") for number in range(1, max(added) + 1))
    return [SecretHit(change.path, found.line, found.kind) for found in redact(text, change.path).findings]


def _secret_by_name(path: str) -> str | None:
    """Why a file is a secret by its path alone (a key file, or a token in its name), else None."""
    kind = secret_file_kind(path)
    if kind:
        return f"secret file: {kind}"
    named = secret_in_name(path)
    return f"secret in file name: {named}" if named else None


def scan_history(changes: ChangeSet) -> list[SecretHit]:
    """Secrets that commits of a range added and later commits removed: gone from the net diff,
    still in the history a push publishes. Those the net diff still shows are reported there."""
    final = {change.path: set(added_lines(change.hunks).values()) for change in changes.changes}
    hits: list[SecretHit] = []
    for commit in changes.history:
        for change in commit.changes:
            what = _secret_by_name(change.path)
            if what and change.status == "added" and change.path not in final:
                hits.append(SecretHit(change.path, None, what, commit.sha))
                continue
            added = added_lines(change.hunks)
            for hit in scan_added(change):
                if added.get(hit.line or 0) not in final.get(change.path, set()):
                    hits.append(SecretHit(hit.path, hit.line, hit.kind, commit.sha))
    return list(dict.fromkeys(hits))


def _name_reason(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if name in LOCK_FILES:
        return "lock file"
    if name.lower().endswith(GENERATED_SUFFIXES):
        return "generated"
    return None


def local_checks(changes: ChangeSet, max_file_bytes: int) -> LocalReport:
    from kimicode.repo.scan import decode

    report = LocalReport()
    report.secrets.extend(scan_history(changes))
    for change in changes.changes:
        if change.status == "unmerged":
            report.skipped.append(Skip(change.path, "unmerged (resolve the conflict first)"))
            continue
        if change.submodule:
            report.skipped.append(Skip(change.path, "submodule"))
            continue
        if change.status == "deleted":
            report.reviewable.append(change)  # shown by name only: the model sees what went away
            continue
        what = _secret_by_name(change.path)
        if what:  # a secret file's contents, or the name itself, which the diff would send
            report.secrets.append(SecretHit(change.path, None, what))
            continue
        if change.binary:
            report.skipped.append(Skip(change.path, "binary"))
            continue
        report.secrets.extend(scan_added(change))
        reason = _name_reason(change.path)
        if reason is None and change.size is not None and change.size > max_file_bytes:
            reason = f"too large ({change.size:,} bytes; the limit is pack.max_file_bytes = {max_file_bytes:,})"
        data = None
        if reason is None:
            data = changes.source.read(change.path)
            reason = "unreadable" if data is None else content_reason(data)
        if reason is not None or data is None:
            report.skipped.append(Skip(change.path, reason or "unreadable"))
            continue
        report.texts[change.path] = decode(data)[0]
        report.reviewable.append(change)
    return report
