from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
from .linear import Identity, Linear, Bilinear  # noqa: F401
from .activation import (  # noqa: F401
    ReLU, ReLU6, SiLU, Mish, Hardsigmoid, Hardswish, SELU, LeakyReLU, ELU, CELU, GELU, Softplus,
    Sigmoid, Tanh, LogSigmoid, Softsign, Tanhshrink, Hardtanh, Threshold, Softmax, LogSoftmax,
    Softmin, PReLU, Hardshrink, Softshrink, GLU, Softmax2d,
)
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
from .misc import Flatten, Unflatten, Dropout, Dropout2d  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose2d, Unfold, Fold  # noqa: F401
from .loss import (  # noqa: F401  (loss branch)
    L1Loss, MSELoss, HuberLoss, SmoothL1Loss, CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss,
    MultiLabelSoftMarginLoss, MultiMarginLoss, KLDivLoss, CosineEmbeddingLoss, MarginRankingLoss,
    TripletMarginLoss, GaussianNLLLoss, PoissonNLLLoss, CosineSimilarity, PairwiseDistance,
)
# --- poolnorm branch ---
from .pooling import (  # noqa: F401
    MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
    AdaptiveMaxPool2d, MaxUnpool2d,
)
from .normalization import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, InstanceNorm1d, InstanceNorm2d, LayerNorm, GroupNorm, RMSNorm,
)
from .sparse import Embedding  # noqa: F401
from .upsampling import Upsample, PixelShuffle, PixelUnshuffle  # noqa: F401
from .padding import (  # noqa: F401
    ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
    ReplicationPad3d, CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d,
    ConstantPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d,
)
