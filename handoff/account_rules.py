"""What an agent's username and password must be, with the reason in English and French.

Passwords follow OWASP ASVS 4.0.3 V2.1 and NIST SP 800-63B 5.1.1.2: at least 12 characters,
up to 128, any printable Unicode including spaces, no composition rules, and refused when they
are easy to guess: a common password, a keyboard pattern, a repeat, or built on the username or
the display name. "Easy to guess" is zxcvbn's estimate (its 30,000 most common passwords, the
user's own words, patterns, l33t), pinned in requirements.lock: below 10^8 guesses is refused.

Usernames are normalised (NFKC, lower case), so that the full-width `ｍａｒｉｅ` and `Marie`
name the account `marie`, and limited to ASCII letters, digits, `.`, `_` and `-`: a Cyrillic
`а` (U+0430) that looks like a Latin `a` is refused, never a second account that looks the same.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Dict, Optional, Sequence, Tuple

MIN_PASSWORD = 12
MAX_PASSWORD = 128
MIN_SCORE = 3  # zxcvbn: 3 is at least 10^8 guesses, past an online attack with throttling
MAX_USERNAME = 64
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")

# code -> (English, French); shown to the operator who creates the account.
MESSAGES: Dict[str, Tuple[str, str]] = {
    "username_chars": (
        f"username: 1 to {MAX_USERNAME} characters, ASCII letters, digits, '.', '_' or '-' "
        "(starting with a letter or digit); letters from other alphabets and full-width forms "
        "are refused, since they can look like another account's name",
        f"identifiant : 1 à {MAX_USERNAME} caractères, lettres ASCII, chiffres, « . », « _ » ou "
        "« - » (en commençant par une lettre ou un chiffre) ; les lettres d'autres alphabets et "
        "les formes pleine chasse sont refusées, car elles peuvent imiter le nom d'un autre "
        "compte"),
    "password_short": (
        f"password: at least {MIN_PASSWORD} characters (a few words make a good one)",
        f"mot de passe : au moins {MIN_PASSWORD} caractères (quelques mots en font un bon)"),
    "password_long": (f"password: at most {MAX_PASSWORD} characters",
                      f"mot de passe : au plus {MAX_PASSWORD} caractères"),
    "password_chars": ("password: control characters and invalid Unicode are not accepted",
                       "mot de passe : les caractères de contrôle et l'Unicode invalide sont "
                       "refusés"),
    "password_personal": ("password: it must not contain the username or the name",
                          "mot de passe : il ne doit contenir ni l'identifiant ni le nom"),
    "password_common": (
        "password: too easy to guess (a common password, a keyboard pattern or a repeat); "
        "choose a longer one, e.g. a few unrelated words",
        "mot de passe : trop facile à deviner (mot de passe courant, suite de touches ou "
        "répétition) ; choisissez-en un plus long, par exemple quelques mots sans rapport"),
}


class RuleError(ValueError):
    """A username or password that breaks a rule; `code` names it in `MESSAGES`."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code][0])
        self.code = code

    @property
    def french(self) -> str:
        """The reason in French."""
        return MESSAGES[self.code][1]


def canonical_username(raw: str) -> Optional[str]:
    """The account name `raw` designates (NFKC, lower case), or None if it cannot be one."""
    if not isinstance(raw, str) or len(raw) > 4 * MAX_USERNAME:
        return None
    name = unicodedata.normalize("NFKC", raw).lower()
    if len(name) > MAX_USERNAME or not _USERNAME.match(name):
        return None
    return name


def new_username(raw: str) -> str:
    """The canonical name for a new account; refuses look-alikes and full-width forms."""
    name = canonical_username(raw)
    if name is None or unicodedata.normalize("NFKC", raw) != raw:
        raise RuleError("username_chars")
    return name


def check_password(password: str, personal: Sequence[str] = ()) -> None:
    """Raises `RuleError` unless `password` may be set; `personal`: username, display name."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        raise RuleError("password_chars")
    if len(password) < MIN_PASSWORD:
        raise RuleError("password_short")
    if len(password) > MAX_PASSWORD:
        raise RuleError("password_long")
    words = [w for w in personal if w]
    words += [part for w in words for part in re.split(r"[\W_]+", w) if part != w]
    lowered = password.casefold()
    if any(len(w) >= 3 and w.casefold() in lowered for w in words):
        raise RuleError("password_personal")
    # Imported here: only account creation needs its word lists (megabytes), not every process.
    from zxcvbn import zxcvbn

    if zxcvbn(password, user_inputs=words)["score"] < MIN_SCORE:
        raise RuleError("password_common")
