"""MovieLens raw files as GroupLens ships them: ml-100k, ml-1m (and ml-10m), ml-latest / ml-25m.

Genres, release year and user demographics become attribute links (``genre=Comedy``,
``year=1995``, ``occupation=writer``) so a KG model sees them without a separate KG.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import LINE_COLUMN, DuplicatePolicy, RecDataset
from kgrec.data.readers.csv import _parse_numbers, _read_table, _require
from kgrec.exceptions import DataFormatError, DataWarning

#: The 19 ml-100k genre flags in file order (used when ``u.genre`` is missing).
GENRES_100K: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
ITEM_FEATURES = ("genre", "year")
USER_FEATURES = ("age", "gender", "occupation", "zip")

#: variant name -> file layout ("100k": u.data ..., "dat": ratings.dat ..., "csv": ratings.csv ...)
VARIANTS: dict[str, str] = {
    "ml-100k": "100k",
    "ml-1m": "dat",
    "ml-10m": "dat",
    "ml-latest": "csv",
    "ml-latest-small": "csv",
    "ml-20m": "csv",
    "ml-25m": "csv",
    "ml-32m": "csv",
}
_MARKER = {"100k": "u.data", "dat": "ratings.dat", "csv": "ratings.csv"}
_YEAR_IN_TITLE = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
_RELEASE_DATE = re.compile(r"\d{1,2}-[A-Za-z]{3}-(\d{4})")
_NO_GENRES = "(no genres listed)"


def read_movielens(
    path: str | Path,
    *,
    variant: str | None = None,
    rating_threshold: float | None = None,
    duplicates: DuplicatePolicy = "first",
    item_features: Sequence[str] = ("genre", "year"),
    user_features: Sequence[str] = ("age", "gender", "occupation"),
) -> RecDataset:
    """Read an extracted MovieLens folder.

    Args:
        path: the folder holding ``u.data`` (ml-100k), ``ratings.dat`` (ml-1m, ml-10m) or
            ``ratings.csv`` (ml-latest, ml-latest-small, ml-20m, ml-25m); a folder holding
            exactly one such folder works too.
        variant: one of :data:`VARIANTS`; ``None`` detects it from the files present.
        item_features: any of ``"genre"`` (a list per movie) and ``"year"`` (release year from
            ``u.item``'s date or the ``(1995)`` at the end of the title).
        user_features: any of ``"age"``, ``"gender"``, ``"occupation"``, ``"zip"`` (ml-100k
            and ml-1m only; the csv variants have no user file and ignore it, ml-10m's missing
            ``users.dat`` gives a DataWarning). Values are kept as written (ml-1m's age and
            occupation are codes).

    The full movie catalogue is kept: movies nobody rated are cold-start items.

    Raises:
        DataFormatError: a malformed line, naming file, 1-based line and field.
    """
    _check_names(item_features, ITEM_FEATURES, "item_features")
    _check_names(user_features, USER_FEATURES, "user_features")
    folder, name = _locate(Path(path), variant)
    layout = VARIANTS[name]
    readers = {"100k": _read_100k, "dat": _read_dat, "csv": _read_csv_variant}
    inter, movies, users, source = readers[layout](folder, item_features, user_features)

    report: dict[str, int] = {}
    if movies is not None:
        unknown = ~np.isin(inter["item"].to_numpy(), movies["item"].to_numpy())
        if unknown.any():
            report["ratings_of_unlisted_movies"] = int(unknown.sum())
            warnings.warn(
                f"{source}: {int(unknown.sum())} rating(s) name movies missing from the movie file",
                DataWarning,
                stacklevel=2,
            )
    item_attrs = movies[["item", *item_features]] if movies is not None and item_features else None
    user_attrs = users[["user", *user_features]] if users is not None and user_features else None
    return RecDataset.from_frames(
        inter,
        item_attributes=item_attrs,
        user_attributes=user_attrs,
        items=movies["item"].tolist() if movies is not None else None,
        rating_threshold=rating_threshold,
        duplicates=duplicates,
        source=str(source),
        name=folder.name if folder.name.lower().startswith("ml-") else name,
        report=report,
    )


# ---------------------------------------------------------------------- layout detection
def _check_names(given: Sequence[str], allowed: Sequence[str], what: str) -> None:
    unknown = [g for g in given if g not in allowed]
    if unknown or isinstance(given, str):
        raise ValueError(f"{what} must be a sequence of {list(allowed)} (got {given!r})")


def _detect(folder: Path) -> str | None:
    for name, layout in (("ml-100k", "100k"), ("ml-1m", "dat"), ("ml-latest", "csv")):
        if (folder / _MARKER[layout]).is_file():
            return name
    return None


def _locate(path: Path, variant: str | None) -> tuple[Path, str]:
    """The folder that holds the files and the variant name."""
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)} (got {variant!r})")
    folder = path.parent if path.is_file() else path
    if not folder.is_dir():
        raise DataFormatError("expected a MovieLens folder, got nothing at this path", file=path)
    candidates = [folder]
    subdirs = [p for p in folder.iterdir() if p.is_dir()]
    if len(subdirs) == 1:
        candidates.append(subdirs[0])
    for cand in candidates:
        if variant is not None:
            if (cand / _MARKER[VARIANTS[variant]]).is_file():
                return cand, variant
        elif (found := _detect(cand)) is not None:
            return cand, found
    if variant is not None:
        raise DataFormatError(
            f"variant {variant!r} expects a file {_MARKER[VARIANTS[variant]]!r} in this folder",
            file=folder,
        )
    raise DataFormatError(
        "expected a MovieLens folder with u.data (ml-100k), ratings.dat (ml-1m) or ratings.csv "
        f"(ml-latest); found {sorted(p.name for p in folder.iterdir())[:10]}",
        file=folder,
    )


# ---------------------------------------------------------------------- shared pieces
def _ratings(table: pd.DataFrame, cols: Sequence[str | int], file: Path) -> pd.DataFrame:
    """``user, item, rating, timestamp, _line`` from four columns of a ratings table."""
    lines = table[LINE_COLUMN]
    u, i, r, t = cols
    return pd.DataFrame(
        {
            "user": _parse_numbers(table[u], lines=lines, file=file, field="user", integer=True),
            "item": _parse_numbers(table[i], lines=lines, file=file, field="item", integer=True),
            "rating": _parse_numbers(table[r], lines=lines, file=file, field="rating"),
            "timestamp": _parse_numbers(table[t], lines=lines, file=file, field="timestamp"),
            LINE_COLUMN: lines.to_numpy(),
        }
    )


def _year_from_title(titles: pd.Series) -> np.ndarray:
    """The release year at the end of a title, ``(1995)`` or ``(2006-2007)``; None without one."""
    years = titles.str.extract(_YEAR_IN_TITLE, expand=False)
    return _years(years)


def _years(text: pd.Series) -> np.ndarray:
    out = np.full(len(text), None, dtype=object)
    ok = text.notna().to_numpy()
    out[ok] = text[ok].astype(int).tolist()
    return out


def _genre_lists(genres: pd.Series) -> np.ndarray:
    """``"A|B"`` -> ``["A", "B"]``; ``(no genres listed)`` and empty -> ``[]``."""
    parts = genres.str.split("|")
    out = np.empty(len(genres), dtype=object)
    out[:] = [[g for g in p if g and g != _NO_GENRES] for p in parts]
    return out


def _movies_file(folder: Path, name: str, item_features: Sequence[str]) -> Path | None:
    path = folder / name
    if path.is_file():
        return path
    if item_features:
        raise DataFormatError(
            f"expected the movie file {name!r} for item_features={list(item_features)}; pass "
            "item_features=() to read ratings only",
            file=path,
        )
    return None


def _users_file(
    folder: Path, name: str, user_features: Sequence[str], *, required: bool = True
) -> Path | None:
    path = folder / name
    if path.is_file():
        return path
    if user_features and not required:
        warnings.warn(
            f"{folder}: no {name} (ml-10m ships none); user_features={list(user_features)} ignored",
            DataWarning,
            stacklevel=4,
        )
        return None
    if user_features:
        raise DataFormatError(
            f"expected the user file {name!r} for user_features={list(user_features)}; pass "
            "user_features=() to read ratings only",
            file=path,
        )
    return None


def _users(table: pd.DataFrame, cols: dict[str, int], file: Path) -> pd.DataFrame:
    lines = table[LINE_COLUMN]
    out = pd.DataFrame(
        {
            "user": _parse_numbers(
                table[cols["user"]], lines=lines, file=file, field="user", integer=True
            )
        }
    )
    for feat in USER_FEATURES:
        values = table[cols[feat]]
        out[feat] = values.astype(object).where(values != "", None).to_numpy(dtype=object)
    _parse_numbers(table[cols["age"]], lines=lines, file=file, field="age", integer=True)
    return out


# ---------------------------------------------------------------------- ml-100k
def _read_100k(
    folder: Path, item_features: Sequence[str], user_features: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, Path]:
    data = folder / "u.data"
    table = _read_table(data, sep="\t", header=False, quoting=csv.QUOTE_NONE, expected_fields=4)
    inter = _ratings(table, (0, 1, 2, 3), data)

    movies = None
    if (item_file := _movies_file(folder, "u.item", item_features)) is not None:
        genres = _genre_names_100k(folder / "u.genre")
        items = _read_table(
            item_file,
            sep="|",
            header=False,
            encoding="latin-1",
            quoting=csv.QUOTE_NONE,
            expected_fields=5 + len(genres),
        )
        lines = items[LINE_COLUMN]
        movies = pd.DataFrame(
            {
                "item": _parse_numbers(
                    items[0], lines=lines, file=item_file, field="movie id", integer=True
                )
            }
        )
        dates = items[2]
        year = dates.str.fullmatch(_RELEASE_DATE.pattern)
        bad = ((dates != "") & ~year).to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"expected a release date like '01-Jan-1995' or nothing, got {dates.iloc[pos]!r}",
                file=item_file,
                line=int(lines.iloc[pos]),
                field="release date",
            )
        movies["year"] = _years(dates.str.extract(_RELEASE_DATE, expand=False))
        flags = items.iloc[:, 5 : 5 + len(genres)].to_numpy(dtype=object)
        bad_flag = (flags != "0") & (flags != "1")
        if bad_flag.any():
            row, col = (int(x[0]) for x in np.nonzero(bad_flag))
            raise DataFormatError(
                f"expected a genre flag 0 or 1, got {flags[row, col]!r}",
                file=item_file,
                line=int(lines.iloc[row]),
                field=genres[col],
            )
        rows, cols = np.nonzero(flags == "1")
        names = np.asarray(genres, dtype=object)
        per_movie = pd.Series(names[cols]).groupby(rows).agg(list)
        genre_col = np.empty(len(movies), dtype=object)
        genre_col[:] = [[] for _ in range(len(movies))]
        genre_col[per_movie.index.to_numpy()] = per_movie.to_numpy()
        movies["genre"] = genre_col

    users = None
    if (user_file := _users_file(folder, "u.user", user_features)) is not None:
        table = _read_table(
            user_file,
            sep="|",
            header=False,
            encoding="latin-1",
            quoting=csv.QUOTE_NONE,
            expected_fields=5,
        )
        users = _users(
            table, {"user": 0, "age": 1, "gender": 2, "occupation": 3, "zip": 4}, user_file
        )
    return inter, movies, users, data


def _genre_names_100k(path: Path) -> list[str]:
    """Genre names by flag position from ``u.genre`` (``name|index``), else the standard 19."""
    if not path.is_file():
        return list(GENRES_100K)
    table = _read_table(
        path, sep="|", header=False, encoding="latin-1", quoting=csv.QUOTE_NONE, expected_fields=2
    )
    index = _parse_numbers(
        table[1], lines=table[LINE_COLUMN], file=path, field="index", integer=True
    )
    if sorted(index.tolist()) != list(range(len(index))):
        raise DataFormatError(
            f"expected genre indices 0..{len(index) - 1} once each, got {sorted(index.tolist())}",
            file=path,
            field="index",
        )
    names = np.empty(len(index), dtype=object)
    names[index] = table[0].to_numpy(dtype=object)
    return names.tolist()


# ---------------------------------------------------------------------- ml-1m / ml-10m
def _read_dat(
    folder: Path, item_features: Sequence[str], user_features: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, Path]:
    data = folder / "ratings.dat"
    opts = {"sep": "::", "header": False, "encoding": "latin-1", "quoting": csv.QUOTE_NONE}
    inter = _ratings(_read_table(data, expected_fields=4, **opts), (0, 1, 2, 3), data)

    movies = None
    if (item_file := _movies_file(folder, "movies.dat", item_features)) is not None:
        items = _read_table(item_file, expected_fields=3, **opts)
        lines = items[LINE_COLUMN]
        movies = pd.DataFrame(
            {
                "item": _parse_numbers(
                    items[0], lines=lines, file=item_file, field="movie id", integer=True
                ),
                "year": _year_from_title(items[1]),
                "genre": _genre_lists(items[2]),
            }
        )

    users = None
    if (user_file := _users_file(folder, "users.dat", user_features, required=False)) is not None:
        table = _read_table(user_file, expected_fields=5, **opts)
        users = _users(
            table, {"user": 0, "gender": 1, "age": 2, "occupation": 3, "zip": 4}, user_file
        )
    return inter, movies, users, data


# ---------------------------------------------------------------------- ml-latest / ml-25m
def _read_csv_variant(
    folder: Path, item_features: Sequence[str], user_features: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, Path]:
    data = folder / "ratings.csv"
    cols = ("userId", "movieId", "rating", "timestamp")
    inter = _fast_ratings_csv(data, cols)
    if inter is None:  # something is off: read as text to say which line
        table = _read_table(data, sep=",", header=True)
        _require(table, cols, file=data, what="ratings")
        inter = _ratings(table, cols, data)

    movies = None
    if (item_file := _movies_file(folder, "movies.csv", item_features)) is not None:
        items = _read_table(item_file, sep=",", header=True)
        _require(items, ("movieId", "title", "genres"), file=item_file, what="movies")
        lines = items[LINE_COLUMN]
        movies = pd.DataFrame(
            {
                "item": _parse_numbers(
                    items["movieId"], lines=lines, file=item_file, field="movieId", integer=True
                ),
                "year": _year_from_title(items["title"]),
                "genre": _genre_lists(items["genres"]),
            }
        )
    return inter, movies, None, data


def _fast_ratings_csv(path: Path, cols: Sequence[str]) -> pd.DataFrame | None:
    """Typed read of a big, clean ratings.csv (ml-25m has 25M rows); None when anything is off."""
    if not path.is_file():
        raise DataFormatError("expected the ratings file ratings.csv, got nothing", file=path)
    try:
        frame = pd.read_csv(
            path,
            usecols=list(cols),
            dtype={cols[0]: np.int64, cols[1]: np.int64, cols[2]: np.float64, cols[3]: np.float64},
            skip_blank_lines=False,
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if frame.isna().to_numpy().any() or not np.isfinite(frame[list(cols[2:])].to_numpy()).all():
        return None
    out = frame.rename(
        columns=dict(zip(cols, ("user", "item", "rating", "timestamp"), strict=True))
    )
    out[LINE_COLUMN] = np.arange(len(out), dtype=np.int64) + 2
    return out
