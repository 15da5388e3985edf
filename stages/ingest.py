"""ingest: decode-check every file of every source (params.yaml data), label it, drop exact duplicates.

Writes --out/images.csv (one row per unique usable image), --out/rejected.csv (every file not used,
with the reason) and --metrics (counts).
"""
from artist_style import config
from artist_style.data.ingest import check_versions, ingest, summary
from artist_style.errors import run, stage_args
from artist_style.files import write_csv, write_json


def main():
    args = stage_args(__doc__, "out", "metrics")
    p = config.load()
    table, rejected = ingest(p.data, p.ingest)
    check_versions(table, p.data.versions, f"{args.out}/rejected.csv")
    write_csv(f"{args.out}/images.csv", table)
    write_csv(f"{args.out}/rejected.csv", rejected)
    stats = summary(table, rejected, p.data.versions)
    write_json(args.metrics, stats)
    print(f"ingest: {stats['images']} images kept {stats['by_role']}, {stats['rejected']} rejected "
          f"{stats['rejected_by_reason']}")


if __name__ == "__main__":
    run(main)
