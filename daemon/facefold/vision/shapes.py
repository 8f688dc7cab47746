"""The shapes FaceNet fixes: what every layer that handles crops or vectors must agree on."""

CROP_SIZE = 160  # pixels: FaceNet's input is a square RGB crop of this side
EMBEDDING_DIM = 128  # floats: FaceNet's output vector, stored L2-normalised
