# The 1.33M-parameter MLP (784-1024-512-10) the scale benchmarks use, saved
# as TorchScript to argv[1]. Run with /usr/bin/python3 from this file:
# TorchScript's compiler reads the class's source.
import sys
import torch


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 1024)
        self.fc2 = torch.nn.Linear(1024, 512)
        self.fc3 = torch.nn.Linear(512, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


torch.manual_seed(0)
torch.jit.script(MLP()).save(sys.argv[1])
