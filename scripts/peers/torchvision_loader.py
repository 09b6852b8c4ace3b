"""torchvision's side of scripts/bench-loader.

  generate DIR SIZE COUNT   writes COUNT JPEGs of SIZExSIZE in ImageFolder layout (DIR/train/cK, DIR/val/cK; 10
                            classes, 9/10 train), smooth random colour fields so they compress like photos
  time ROOT BATCH EPOCHS    ImageFolder(ROOT, ToTensor + Normalize) + DataLoader(BATCH, shuffle, num_workers=2):
                            images/s of each epoch (every epoch decodes again; nothing is cached)
"""
import os
import sys
import time

import numpy as np


def generate(root, size, count):
    from PIL import Image
    rng = np.random.default_rng(0)
    n_train = count * 9 // 10
    for i in range(count):
        split = "train" if i < n_train else "val"
        d = os.path.join(root, split, "c%d" % (i % 10))
        os.makedirs(d, exist_ok=True)
        coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((size, size), Image.BILINEAR)
        noise = rng.integers(-12, 13, size=(size, size, 3))
        arr = np.clip(np.asarray(img, dtype=np.int32) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(os.path.join(d, "%05d.jpg" % i), quality=90)


def time_loader(root, batch, epochs):
    import torch
    import torchvision
    from torchvision import transforms
    torch.set_num_threads(1)
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    ds = torchvision.datasets.ImageFolder(root, transform=t)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=2)
    best = 0.0
    for e in range(epochs):
        s = time.perf_counter()
        n = 0
        for x, y in dl:
            n += x.shape[0]
        secs = time.perf_counter() - s
        best = max(best, n / secs)
        print("torchvision epoch %d: %d images in %.3f s = %.0f images/s (num_workers=2, workers started each epoch)" % (e, n, secs, n / secs))
    print("torchvision epoch best: %.0f images/s" % best)


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "time":
        time_loader(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: torchvision_loader.py generate DIR SIZE COUNT | time ROOT BATCH EPOCHS")
