"""Vision models: an MLP and a small CNN for 8x8 digits, MNIST-1D's MLP and 1-D CNN, a CIFAR CNN and a CIFAR ResNet-18."""

from __future__ import annotations


def mlp(in_features: int = 64, hidden: int = 128, classes: int = 10):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def small_cnn(in_channels: int = 1, classes: int = 10, width: int = 16, image: int = 8):
    """conv-relu, conv-relu, 2x2 max-pool, linear."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * (image // 2) ** 2, classes),
    )


def mlp1d(length: int = 40, hidden: int = 100, classes: int = 10):
    """MNIST-1D MLP of Greydanus (2020): length-100-100-10 with ReLU."""
    from torch import nn

    return nn.Sequential(
        nn.Flatten(), nn.Linear(length, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def cnn1d(length: int = 40, width: int = 25, classes: int = 10):
    """MNIST-1D CNN of Greydanus (2020): three conv1d (kernel 5, stride 2, padding 1) + ReLU, linear."""
    from torch import nn

    out = length
    for _ in range(3):
        out = (out + 2 - 5) // 2 + 1
    return nn.Sequential(
        nn.Conv1d(1, width, 5, 2, 1), nn.ReLU(), nn.Conv1d(width, width, 5, 2, 1), nn.ReLU(),
        nn.Conv1d(width, width, 5, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(width * out, classes),
    )


def cifar_cnn(classes: int = 10, width: int = 32):
    """Three conv-BN-ReLU-pool stages and a linear head (standard tier)."""
    from torch import nn

    def stage(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *stage(3, width), *stage(width, 2 * width), *stage(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, classes),
    )


def resnet18(classes: int = 10):
    """ResNet-18 for 32x32 inputs: 3x3 stem without max-pool, four stages of two basic blocks
    (He et al. 2016, CIFAR variant as used by the SAM and Cutout papers' baselines)."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)
