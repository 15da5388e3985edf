"""ingest: decode-check every file of every source (params.yaml data), label it, drop exact duplicates,
put near-copies (perceptual hash) in one group.

Writes --out/images.csv (one row per unique usable image), --out/rejected.csv (every file not used,
with the reason), --out/near_duplicates.csv (the clusters of near-copies) and --metrics (counts).
Nothing is written unless every file was looked at; each file is replaced atomically.
"""
from artist_style import config
from artist_style.data.ingest import check_versions, ingest, summary
from artist_style.errors import run, stage_args
from artist_style.files import write_csv, write_json


def main():
    args = stage_args(__doc__, "out", "metrics")
    p = config.load()
    table, rejected, near = ingest(p.data, p.ingest)
    check_versions(table, p.data.versions, f"{args.out}/rejected.csv")
    stats = summary(table, rejected, near, p.data.versions)
    write_csv(f"{args.out}/rejected.csv", rejected)
    write_csv(f"{args.out}/near_duplicates.csv", near)
    write_csv(f"{args.out}/images.csv", table)
    write_json(args.metrics, stats)
    print(f"ingest: {stats['images']} images kept {stats['by_role']}, {stats['rejected']} rejected "
          f"{stats['rejected_by_reason']}, {stats['near_duplicates']['clusters']} clusters of near-copies "
          f"({stats['near_duplicates']['groups_merged']} groups merged)")


if __name__ == "__main__":
    run(main)
