"""preprocess: every unique image decoded once, made RGB and resized, stored as uint8
(artist_style.data.processed). Reads --images (ingest's table); writes the folder --out."""
from artist_style import config
from artist_style.data import processed
from artist_style.errors import run, stage_args
from artist_style.files import read_csv


def main():
    args = stage_args(__doc__, "images", "out")
    cfg = config.load().preprocess
    images = read_csv(args.images, dtype={"id": str})
    processed.write(images, args.out, cfg)
    print(f"preprocess: {len(images)} images at {cfg.image_size}x{cfg.image_size} ({cfg.resize}) in {args.out}")


if __name__ == "__main__":
    run(main)
