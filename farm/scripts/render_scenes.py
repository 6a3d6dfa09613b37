"""Renders procedural scenes with Blender's Cycles into noisy/clean multilayer EXR pairs (run by render-dataset.sh).

Each scene is drawn from its own seed (seed * 100003 + scene index), so scene k is the same whatever the scene count:
a ground plane, 3-7 random shapes (cube, sphere, cylinder, cone, torus, icosphere) with random principled materials
(diffuse, glossy, metal, glass), 1-3 random lights (point, area, spot, sun), a coloured world, and a camera on a
circle around the shapes; each further frame of a scene moves the camera a few degrees along that circle. Every frame
is rendered twice on the CPU with no denoiser: at the low sample count (noisy/) and at the high one (clean/), with
different noise seeds, into OPEN_EXR_MULTILAYER (float, ZIP) with Cycles' denoising passes (ViewLayer.Combined,
ViewLayer.Denoising Albedo, ViewLayer.Denoising Normal, ViewLayer.Denoising Depth). Held-out scenes go to test/, the
rest to train/. Prints one line per frame with its render times, then a summary line starting with "summary:".

Usage: blender -b --factory-startup --python render_scenes.py -- --out DIR [--scenes N] [--frames F] [--seed S]
       [--size PX] [--low SPP] [--high SPP] [--holdout K] [--threads T]
"""
import argparse
import math
import os
import random
import sys
import time

import bpy
from mathutils import Vector


def arguments():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(prog="render_scenes.py")
    p.add_argument("--out", required=True)
    p.add_argument("--scenes", type=int, default=8)
    p.add_argument("--frames", type=int, default=2, help="frames per scene (the camera moves between them)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--low", type=int, default=8, help="samples per pixel of the noisy render")
    p.add_argument("--high", type=int, default=256, help="samples per pixel of the clean render")
    p.add_argument("--holdout", type=int, default=2, help="scenes held out (the last ones) into test/")
    p.add_argument("--threads", type=int, default=0, help="render threads (0: all cores)")
    a = p.parse_args(argv)
    if a.scenes < 1 or a.frames < 1 or a.size < 8 or a.low < 1 or a.high < a.low:
        p.error("need --scenes >= 1, --frames >= 1, --size >= 8, 1 <= --low <= --high")
    if not 0 <= a.holdout < a.scenes:
        p.error(f"--holdout {a.holdout} must leave at least one of the {a.scenes} scenes for training")
    return a


def clear():
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.lights, bpy.data.cameras, bpy.data.worlds):
        for item in list(collection):
            collection.remove(item)


def material(rng, name):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    bsdf = m.node_tree.nodes["Principled BSDF"]
    kind = rng.choice(["diffuse", "diffuse", "glossy", "metal", "glass"])
    bsdf.inputs["Base Color"].default_value = (rng.random(), rng.random(), rng.random(), 1.0)
    bsdf.inputs["Roughness"].default_value = {"diffuse": 0.9, "glossy": 0.25, "metal": 0.3, "glass": 0.05}[kind] * rng.uniform(0.5, 1.0)
    bsdf.inputs["Metallic"].default_value = 1.0 if kind == "metal" else 0.0
    bsdf.inputs["Transmission"].default_value = 1.0 if kind == "glass" else 0.0
    return m


def shape(rng, index):
    kind = rng.choice(["cube", "sphere", "cylinder", "cone", "torus", "ico"])
    location = (rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5), rng.uniform(0.4, 1.6))
    rotation = (rng.uniform(0, math.pi), rng.uniform(0, math.pi), rng.uniform(0, math.pi))
    size = rng.uniform(0.4, 1.1)
    if kind == "cube":
        bpy.ops.mesh.primitive_cube_add(size=size * 1.4, location=location, rotation=rotation)
    elif kind == "sphere":
        bpy.ops.mesh.primitive_uv_sphere_add(radius=size, location=location, segments=24, ring_count=12)
    elif kind == "cylinder":
        bpy.ops.mesh.primitive_cylinder_add(radius=size * 0.6, depth=size * 2, location=location, rotation=rotation)
    elif kind == "cone":
        bpy.ops.mesh.primitive_cone_add(radius1=size * 0.8, depth=size * 2, location=location, rotation=rotation)
    elif kind == "torus":
        bpy.ops.mesh.primitive_torus_add(major_radius=size, minor_radius=size * 0.3, location=location, rotation=rotation)
    else:
        bpy.ops.mesh.primitive_ico_sphere_add(radius=size, subdivisions=2, location=location)
    obj = bpy.context.active_object
    obj.data.materials.append(material(rng, f"shape{index}"))
    if kind in ("sphere", "cylinder", "torus"):
        bpy.ops.object.shade_smooth()


def light(rng, index):
    kind = rng.choice(["POINT", "AREA", "SPOT", "SUN"])
    data = bpy.data.lights.new(f"light{index}", kind)
    data.color = (rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
    data.energy = {"POINT": rng.uniform(300, 1500), "AREA": rng.uniform(200, 1000), "SPOT": rng.uniform(500, 2000), "SUN": rng.uniform(1, 5)}[kind]
    if kind == "AREA":
        data.size = rng.uniform(0.5, 3.0)
    obj = bpy.data.objects.new(f"light{index}", data)
    obj.location = (rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(3, 7))
    look_at(obj, Vector((0, 0, 0.5)))
    bpy.context.scene.collection.objects.link(obj)


def look_at(obj, target):
    direction = target - Vector(obj.location)
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def build(rng):
    clear()
    scene = bpy.context.scene
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.6), 1.0)
    background.inputs["Strength"].default_value = rng.uniform(0.2, 1.5)
    scene.world = world
    bpy.ops.mesh.primitive_plane_add(size=200, location=(0, 0, 0))
    bpy.context.active_object.data.materials.append(material(rng, "ground"))
    for i in range(rng.randint(3, 7)):
        shape(rng, i)
    for i in range(rng.randint(1, 3)):
        light(rng, i)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.lens = rng.uniform(28, 50)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera, rng.uniform(0, 2 * math.pi), rng.uniform(5, 8), rng.uniform(2, 4)


def settings(args):
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.use_denoising = False
    scene.cycles.use_adaptive_sampling = False
    scene.render.resolution_x = args.size
    scene.render.resolution_y = args.size
    scene.render.resolution_percentage = 100
    if args.threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = args.threads
    image = scene.render.image_settings
    image.file_format = "OPEN_EXR_MULTILAYER"
    image.color_depth = "32"
    image.exr_codec = "ZIP"
    scene.view_layers[0].cycles.denoising_store_passes = True


def render(path, samples, seed):
    scene = bpy.context.scene
    scene.cycles.samples = samples
    scene.cycles.seed = seed
    scene.render.filepath = path
    start = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    return time.perf_counter() - start


def main():
    args = arguments()
    settings(args)
    low_times, high_times = [], []
    for s in range(args.scenes):
        rng = random.Random(args.seed * 100003 + s)
        camera, angle, radius, height = build(rng)
        settings(args)
        split = "test" if s >= args.scenes - args.holdout else "train"
        for f in range(args.frames):
            a = angle + f * math.radians(4)
            camera.location = (radius * math.cos(a), radius * math.sin(a), height)
            look_at(camera, Vector((0, 0, 0.6)))
            name = f"scene{s:04d}_{f + 1:04d}.exr"
            noisy = render(os.path.join(args.out, split, "noisy", name), args.low, rng.randrange(1 << 30))
            clean = render(os.path.join(args.out, split, "clean", name), args.high, rng.randrange(1 << 30))
            low_times.append(noisy)
            high_times.append(clean)
            print(f"rendered {split}/{name}: {args.low} spp {noisy:.2f} s, {args.high} spp {clean:.2f} s", flush=True)
    frames = len(low_times)
    print(f"summary: {frames} frames ({args.scenes} scenes, {args.holdout} held out) at {args.size}x{args.size}: "
          f"{args.low} spp {sum(low_times) / frames:.2f} s/frame, {args.high} spp {sum(high_times) / frames:.2f} s/frame", flush=True)


main()
