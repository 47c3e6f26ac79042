//! The embedded hangman word lists: common nouns of three to eleven letters, lower
//! case, one alphabet per list (Latin a–z for English, Cyrillic а–я without ё for
//! Russian), written for Sova. A test checks the sizes, alphabets and uniqueness.

/// Common English nouns, separated by whitespace.
pub(crate) const ENGLISH: &str = "
apple banana orange grape lemon cherry peach melon carrot potato tomato onion garlic pepper
bread butter cheese honey sugar coffee cookie pizza pasta salad soup dinner lunch breakfast
table chair window door kitchen bedroom garden garage house castle bridge tower village city
river ocean island forest desert mountain valley meadow beach lake stream canyon volcano jungle
winter summer spring autumn morning evening night sunrise sunset weather thunder rainbow cloud storm
planet rocket comet galaxy moon star orbit meteor gravity engine
doctor teacher farmer pilot sailor artist writer singer dancer driver soldier lawyer baker hunter
guitar piano violin drum trumpet flute music song concert ballet theatre cinema movie camera picture
pencil paper letter book library school student lesson answer question puzzle riddle secret story
horse rabbit tiger lion zebra monkey giraffe elephant dolphin whale shark turtle parrot eagle falcon
penguin kitten puppy spider beetle butterfly squirrel hamster donkey camel wolf bear fox owl
shirt jacket sweater trousers glove scarf boots pocket button ribbon necklace bracelet umbrella wallet
train bicycle airplane subway tractor truck ship harbor station airport ticket journey holiday travel
market money coin price basket bottle candle mirror pillow blanket ladder hammer needle bucket
friend family brother sister mother father cousin neighbor stranger captain king queen prince wizard
dragon giant knight pirate treasure diamond crystal silver gold copper marble velvet
football tennis hockey chess soccer runner winner medal trophy stadium swimming skating
computer keyboard printer message network website phone battery signal screen cable
blossom flower tulip daisy violet cactus bamboo maple willow acorn mushroom pumpkin
kettle teapot spoon fork knife plate saucer napkin oven fridge freezer blender toaster
circle square triangle number pattern shadow silence whisper laughter courage freedom wisdom justice
energy magnet glacier tunnel machine robot statue lantern compass anchor fountain lighthouse
";

/// Common Russian nouns, separated by whitespace.
pub(crate) const RUSSIAN: &str = "
яблоко банан апельсин виноград лимон вишня персик арбуз морковь картошка помидор огурец чеснок
хлеб масло сыр мед сахар кофе печенье каша суп обед ужин завтрак чай молоко варенье пирог
стол стул окно дверь кухня комната сад гараж дом замок мост башня деревня город улица площадь
река океан остров лес пустыня гора долина поле пляж озеро ручей болото вулкан берег
зима лето весна осень утро вечер ночь рассвет закат погода гроза радуга облако буря ветер
планета ракета комета галактика луна звезда спутник метеор космос
врач учитель фермер летчик моряк художник писатель певец танцор водитель солдат юрист пекарь охотник
гитара пианино скрипка барабан труба флейта музыка песня концерт балет театр кино фильм картина
карандаш бумага письмо книга школа ученик урок ответ вопрос загадка секрет сказка тетрадь
лошадь кролик тигр лев зебра обезьяна жираф слон дельфин кит акула черепаха попугай орел сокол
пингвин котенок щенок паук жук бабочка белка хомяк осел верблюд волк медведь лиса сова заяц ежик
рубашка куртка свитер брюки перчатка шарф сапоги карман пуговица лента платье шапка зонтик кошелек
поезд велосипед самолет метро трактор грузовик корабль порт вокзал аэропорт билет поездка отпуск
рынок деньги монета цена корзина бутылка свеча зеркало подушка одеяло лестница молоток иголка ведро
друг семья брат сестра мама папа бабушка дедушка сосед капитан король королева принц волшебник
дракон великан рыцарь пират сокровище алмаз кристалл серебро золото медь мрамор бархат
футбол теннис хоккей шахматы бегун победа медаль кубок стадион плавание коньки лыжи
компьютер клавиатура принтер сообщение сеть телефон батарейка сигнал экран кнопка
цветок тюльпан ромашка фиалка кактус бамбук клен ива желудь гриб тыква береза
чайник ложка вилка нож тарелка блюдце салфетка плита холодильник миска кастрюля сковорода
круг квадрат треугольник число буква тень тишина шепот смех храбрость свобода мудрость
энергия магнит машина робот фонарь компас якорь маяк часы календарь праздник подарок
";
