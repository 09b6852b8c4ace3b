package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;

/**
 * Test scaffolding: a network whose logits and parameter gradients are scripted per pass, so that a test can put
 * any sequence through an optimizer step exactly — a loss that overflows while the gradient stays finite, an
 * infinite gradient under a finite loss, a fault in SAM's second pass alone, a SAM gradient parallel to the plain
 * one. {@link #forward} copies the scripted logits of the mode's pass ({@link Mode#TRAIN}: pass 1,
 * {@link Mode#TRAIN_FROZEN_STATS}: pass 2) into its output, whatever the input and the weights; {@link #backward}
 * copies that pass's scripted gradient into the gradient arena. Both only enqueue backend copies, so the layer can
 * be recorded into a CUDA graph: the script is read when a pass runs, not when it is recorded.
 * Tensors: {@code a} {@code [sizeA]} and {@code b} {@code [sizeB]} (WEIGHT).
 */
public final class ScriptedLayer implements Layer {
    private final int classes, sizeA, sizeB;
    private ParamSpec specA;
    private Backend be;
    private Buffer grad;                 // [sizeA + sizeB] the gradient arena's view of both tensors
    private Buffer logits1, logits2;     // [maxBatch, classes] scripted logits of pass 1 / pass 2
    private Buffer grad1, grad2;         // [sizeA + sizeB] scripted gradients of pass 1 / pass 2
    private Buffer y;                    // [maxBatch, classes]
    private int maxBatch;

    public ScriptedLayer(int classes, int sizeA, int sizeB) {
        this.classes = classes;
        this.sizeA = sizeA;
        this.sizeB = sizeB;
    }

    /** Parameters in all. */
    public int size() { return sizeA + sizeB; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        specA = params.add(Layer.join(prefix, "a"), Shape.of(sizeA), Role.WEIGHT);
        params.add(Layer.join(prefix, "b"), Shape.of(sizeB), Role.WEIGHT);
        return Shape.of(classes);
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.maxBatch = maxBatch;
        be = ctx.backend();
        // The two tensors are adjacent in the arena (declared one after the other).
        grad = ctx.grads().slice(specA.offset(), size());
        logits1 = ctx.allocate((long) maxBatch * classes);
        logits2 = ctx.allocate((long) maxBatch * classes);
        grad1 = ctx.allocate(size());
        grad2 = ctx.allocate(size());
        y = ctx.allocate((long) maxBatch * classes);
    }

    /** Sets what the next passes produce: logits {@code [maxBatch, classes]} and gradients {@code [size()]} per pass. */
    public void script(float[] passOneLogits, float[] passOneGradient, float[] passTwoLogits, float[] passTwoGradient) {
        if (passOneLogits.length != maxBatch * classes || passTwoLogits.length != maxBatch * classes
                || passOneGradient.length != size() || passTwoGradient.length != size()) {
            throw new IllegalArgumentException("script sizes do not match the layer");
        }
        be.upload(passOneLogits, 0, logits1, passOneLogits.length);
        be.upload(passTwoLogits, 0, logits2, passTwoLogits.length);
        be.upload(passOneGradient, 0, grad1, size());
        be.upload(passTwoGradient, 0, grad2, size());
    }

    private Mode lastMode = Mode.TRAIN;

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        lastMode = mode;
        Buffer yn = y.slice(0, (long) n * classes);
        be.copy((mode == Mode.TRAIN_FROZEN_STATS ? logits2 : logits1).slice(0, (long) n * classes), yn, (long) n * classes);
        return yn;
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        be.copy(lastMode == Mode.TRAIN_FROZEN_STATS ? grad2 : grad1, grad, size());
        return null;
    }

    @Override public String toString() { return "Scripted(" + classes + ", " + sizeA + " + " + sizeB + ")"; }
}
